"""Wiring the runtime: the built-in feature plugins, the staff authenticator of ``tenants``,
and migrations that know every installed plugin's tables."""

from __future__ import annotations

from core import migrate
from core.plugins import PluginRegistry, build_registry
from core.runtime import Runtime
from core.settings import Settings
from tenants.service import authenticate

# Feature plugins that ship with storeplug; a merchant switches each on or off. Third-party
# plugins come from the ``storeplug.plugins`` entry points or ``STOREPLUG_PLUGIN_MODULES``.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "plugins.flashsale.plugin",
    "plugins.points.plugin",
    "plugins.pickup.plugin",
    "plugins.groupbuy.plugin",
    "plugins.sharecoupon.plugin",
    "plugins.leaders.plugin",
)


# Always-on hookimpls of the vendor side (its console pages' navigation).
TENANT_MODULES: tuple[str, ...] = ("tenants.defaults",)


def build_plugins(settings: Settings) -> PluginRegistry:
    return build_registry((*BUILTIN_PLUGINS, *settings.plugin_modules), TENANT_MODULES)


def build_runtime(settings: Settings, plugins: PluginRegistry | None = None) -> Runtime:
    return Runtime.build(settings, plugins or build_plugins(settings), authenticate)


def upgrade_database(settings: Settings, revision: str = "heads") -> None:
    """``storeplug db upgrade``: the core and every installed plugin to their heads (blocking;
    from a thread when an event loop runs)."""
    migrate.upgrade(settings, build_plugins(settings), revision)


def database_revision(settings: Settings) -> str:
    return migrate.current(settings, build_plugins(settings))
