"""The plugin manager, plugin metadata and per-tenant hook dispatch.

One ``pluggy.PluginManager("storeplug")`` is built at start-up: always-on core modules first,
then the feature plugin modules the composition root names (the built-ins, then any in
``STOREPLUG_PLUGIN_MODULES``), then the ``storeplug.plugins`` entry points; then
``check_pending()``. Nothing is registered while serving.

A tenant's calls go through ``TenantHooks``: ``pm.subset_hook_caller`` with the feature plugins
that tenant has *not* enabled removed (pytest's FSHookProxy is the model). Proxies are cached
by the frozenset of enabled plugins, so ten thousand tenants share a handful of them.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import msgspec
import pluggy

from core import hookspecs
from core.errors import AppError, FieldError, field_errors_from_msgspec

PROJECT = "storeplug"
ENTRY_POINT_GROUP = "storeplug.plugins"

# Always-on modules written as hookimpls, so the core uses the same hooks as plugins do.
CORE_MODULES: tuple[str, ...] = (
    "core.defaults",
    "core.members.defaults",
    "core.cart.defaults",
    "core.orders.defaults",
    "core.payments.defaults",
    "core.payments.hooks",
    "core.coupons.defaults",
    "core.analytics.defaults",
    "core.console.defaults",
    "core.campaigns.defaults",
    "core.notifications.defaults",
)


class NoSettings(msgspec.Struct, frozen=True):
    """Settings of a plugin that has none."""


@dataclass(frozen=True)
class PluginMeta:
    """What a feature plugin declares in its module as ``META``."""

    name: str
    title: str
    description: str
    version: str
    settings: type[msgspec.Struct] = NoSettings
    # The plan feature a tenant's plan must include to enable it (defaults to the name).
    plan_feature: str = ""
    # Alembic versions folder holding this plugin's tables, migrated by `storeplug db upgrade`.
    migrations: str | None = None
    # Plugins that must be on for this one to be (``leaders`` builds on ``pickup``): enabling
    # it without them is refused, and so is disabling one of them while it is on.
    requires: tuple[str, ...] = ()

    @property
    def feature(self) -> str:
        return self.plan_feature or self.name

    def settings_schema(self) -> dict[str, Any]:
        return msgspec.json.schema(self.settings)

    def default_settings(self) -> msgspec.Struct:
        return self.settings()

    def validate_settings(self, raw: Any) -> msgspec.Struct:
        """Validate a merchant's settings; a bad value is a 422 naming the field."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise AppError(
                "settings must be an object",
                code="plugin.invalid_settings",
                status=422,
                errors=[FieldError(field="settings", message="expected an object")],
            )
        try:
            return msgspec.convert(raw, self.settings, strict=False)
        except msgspec.ValidationError as exc:
            raise AppError(
                f"invalid settings for plugin {self.name}",
                code="plugin.invalid_settings",
                status=422,
                errors=field_errors_from_msgspec(exc, prefix="settings"),
            ) from None


def active_plugins(
    chosen: Iterable[str], allowed: Callable[[str], bool], requires: Mapping[str, Iterable[str]]
) -> frozenset[str]:
    """The plugins that are really on: chosen by the merchant, allowed (by the plan), and
    with every plugin they require on as well. A plan that drops a dependency therefore
    switches its dependants off too, without touching their rows."""
    active = {name for name in chosen if allowed(name)}
    while True:
        missing = {name for name in active if not set(requires.get(name, ())) <= active}
        if not missing:
            return frozenset(active)
        active -= missing


class TenantHooks:
    """The hooks as seen by one set of enabled plugins: ``hooks.plugin_enabled(...)``."""

    def __init__(self, pm: pluggy.PluginManager, removed: list[object]) -> None:
        self._pm = pm
        self._removed = removed
        self._callers: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        caller = self._callers.get(name)
        if caller is None:
            if not self._removed:
                caller = getattr(self._pm.hook, name)
            else:
                caller = self._pm.subset_hook_caller(name, remove_plugins=self._removed)
            self._callers[name] = caller
        return caller


async def call_acting(results: Iterable[Any]) -> list[Any]:
    """Await the coroutines an acting hook returned, one after another, in order."""
    pending = list(results)
    values = []
    try:
        while pending:
            result = pending.pop(0)
            values.append(await result if inspect.isawaitable(result) else result)
    finally:
        # A hook that raised stops the rest; their coroutines were made, so close them.
        for result in pending:
            if inspect.iscoroutine(result):
                result.close()
    return values


class PluginRegistry:
    """The plugin manager plus what it knows about feature plugins."""

    def __init__(self, pm: pluggy.PluginManager, metas: dict[str, PluginMeta]) -> None:
        self.pm = pm
        self.metas = metas
        self._objects = {name: pm.get_plugin(name) for name in metas}
        self._hooks: dict[frozenset[str], TenantHooks] = {}

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.metas)

    @property
    def requires(self) -> dict[str, tuple[str, ...]]:
        return {name: meta.requires for name, meta in self.metas.items()}

    def dependants(self, name: str) -> list[str]:
        """The installed plugins that require ``name``, by name."""
        return sorted(n for n, meta in self.metas.items() if name in meta.requires)

    def meta(self, name: str) -> PluginMeta:
        try:
            return self.metas[name]
        except KeyError:
            raise AppError(f"no plugin named {name!r}", code="plugin.unknown", status=404) from None

    def hooks_for(self, enabled: frozenset[str]) -> TenantHooks:
        hooks = self._hooks.get(enabled)
        if hooks is None:
            # Names of plugins no longer installed must not mint extra cache entries.
            installed = enabled & self.names
            if installed != enabled:
                return self.hooks_for(installed)
            removed = [obj for name, obj in self._objects.items() if name not in enabled]
            hooks = self._hooks[enabled] = TenantHooks(self.pm, removed)
        return hooks

    @property
    def all_hooks(self) -> TenantHooks:
        return self.hooks_for(self.names)


def _register(pm: pluggy.PluginManager, module: ModuleType | object, name: str) -> None:
    if pm.get_plugin(name) is None and not pm.is_registered(module):
        pm.register(module, name=name)


def build_registry(
    plugin_modules: Iterable[str] = (), always_on: Iterable[str] = ()
) -> PluginRegistry:
    """The plugin manager with the core's modules, ``always_on`` (hookimpl modules of the
    layers above core, handed in by the composition root), ``plugin_modules`` (feature
    plugins by module name) and every ``storeplug.plugins`` entry point."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    always = (*CORE_MODULES, *always_on)
    for module_name in always:
        _register(pm, importlib.import_module(module_name), module_name)
    for module_name in plugin_modules:
        module = importlib.import_module(module_name)
        _register(pm, module, _meta_of(module, module_name).name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    pm.check_pending()

    metas: dict[str, PluginMeta] = {}
    for name, plugin in pm.list_name_plugin():
        meta = getattr(plugin, "META", None)
        if isinstance(meta, PluginMeta):
            if meta.name != name:
                raise RuntimeError(f"plugin registered as {name!r} declares name {meta.name!r}")
            metas[name] = meta
        elif name not in always:
            raise RuntimeError(f"plugin {name!r} has no META = PluginMeta(...)")
    _check_requires(metas)
    return PluginRegistry(pm, metas)


def _check_requires(metas: dict[str, PluginMeta]) -> None:
    """Start-up refuses a plugin whose dependency is not installed, and a cycle (neither
    plugin of it could ever be switched on first)."""
    for name, meta in metas.items():
        for needed in meta.requires:
            if needed not in metas:
                raise RuntimeError(f"plugin {name!r} requires plugin {needed!r}, not installed")

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            cycle = " -> ".join((*path[path.index(name) :], name))
            raise RuntimeError(f"plugins require each other in a cycle: {cycle}")
        for needed in metas[name].requires:
            visit(needed, (*path, name))

    for name in metas:
        visit(name, ())


def _meta_of(module: ModuleType, module_name: str) -> PluginMeta:
    meta = getattr(module, "META", None)
    if not isinstance(meta, PluginMeta):
        raise RuntimeError(f"plugin module {module_name} has no META = PluginMeta(...)")
    return meta
