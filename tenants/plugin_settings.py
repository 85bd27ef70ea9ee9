"""A merchant turns feature plugins on and off and edits their settings.

The plan decides what may be enabled; settings are validated against the plugin's msgspec
Struct on save; turning a plugin off keeps its row and its data. A plugin that requires others
(``PluginMeta.requires``) is enabled only while they are on, and none of them is disabled while
it is on. Every change bumps the tenant's version so all worker processes pick it up on their
next request.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import select

from core.auth import require_staff
from core.context import TenantContext
from core.errors import AppError, FieldError
from core.plugins import PluginMeta, active_plugins, call_acting
from core.runtime import Runtime
from core.tenancy.models import TenantPlugin
from tenants.schemas import PluginOut


def _out(
    meta: PluginMeta, ctx: TenantContext, row: TenantPlugin | None, active: frozenset[str]
) -> PluginOut:
    config = meta.validate_settings(row.config if row else None)
    return PluginOut(
        name=meta.name,
        title=meta.title,
        description=meta.description,
        version=meta.version,
        in_plan=meta.feature in ctx.tenant.plan_plugins,
        # On only while the plan includes it (and what it requires is on); the stored
        # choice returns with the plan.
        enabled=meta.name in active,
        requires=list(meta.requires),
        settings=msgspec.to_builtins(config),
        settings_schema=meta.settings_schema(),
    )


async def _rows(ctx: TenantContext, lock: bool = False) -> dict[str, TenantPlugin]:
    if lock:
        # Two toggles of one store queue here (leaders on while pickup goes off must not
        # both pass their checks). The rows are then read by a second statement, which on
        # PostgreSQL also sees a row that the toggle ahead of us inserted while we waited.
        await ctx.session.execute(select(TenantPlugin.plugin).with_for_update())
    query = select(TenantPlugin).execution_options(populate_existing=True)
    return {r.plugin: r for r in await ctx.session.scalars(query)}


def _active(rt: Runtime, ctx: TenantContext, rows: dict[str, TenantPlugin]) -> frozenset[str]:
    return active_plugins(
        (name for name, row in rows.items() if row.enabled and name in rt.plugins.metas),
        lambda name: rt.plugins.metas[name].feature in ctx.tenant.plan_plugins,
        rt.plugins.requires,
    )


async def list_plugins(rt: Runtime, ctx: TenantContext) -> list[PluginOut]:
    rows = await _rows(ctx)
    active = _active(rt, ctx, rows)
    return [
        _out(meta, ctx, rows.get(name), active) for name, meta in sorted(rt.plugins.metas.items())
    ]


def _refuse_missing(meta: PluginMeta, active: frozenset[str]) -> None:
    missing = [name for name in meta.requires if name not in active]
    if missing:
        names = ", ".join(missing)
        raise AppError(
            f"plugin {meta.name!r} requires {names}: enable {names} first",
            code="plugin.requires_plugin",
            status=409,
            errors=[FieldError(field="requires", message=name) for name in missing],
        )


def _refuse_needed(rt: Runtime, name: str, active: frozenset[str]) -> None:
    needed_by = [other for other in rt.plugins.dependants(name) if other in active]
    if needed_by:
        names = ", ".join(needed_by)
        raise AppError(
            f"plugin {names} requires {name!r}: disable {names} first",
            code="plugin.required_by_plugin",
            status=409,
            errors=[FieldError(field="required_by", message=other) for other in needed_by],
        )


def _invalidate_after_commit(rt: Runtime, ctx: TenantContext) -> None:
    slug = ctx.tenant.slug

    async def invalidate() -> None:
        await rt.tenants.invalidate(slug)

    ctx.after_commit(invalidate)


async def enable(rt: Runtime, ctx: TenantContext, name: str, settings: Any) -> PluginOut:
    require_staff(ctx, "owner")
    meta = rt.plugins.meta(name)
    if meta.feature not in ctx.tenant.plan_plugins:
        raise AppError(
            f"plugin {name!r} is not included in plan {ctx.tenant.plan!r}",
            code="plugin.not_in_plan",
            status=403,
        )
    rows = await _rows(ctx, lock=True)
    row = rows.get(name)
    raw = settings if settings is not None else (row.config if row else None)
    config = meta.validate_settings(raw)
    _refuse_missing(meta, _active(rt, ctx, rows))
    if row is None:
        row = rows[name] = TenantPlugin(
            plugin=name, enabled=True, config=msgspec.to_builtins(config)
        )
        ctx.session.add(row)
    else:
        was_enabled = row.enabled
        row.enabled, row.config = True, msgspec.to_builtins(config)
        if was_enabled:
            _invalidate_after_commit(rt, ctx)
            return _out(meta, ctx, row, _active(rt, ctx, rows))
    await ctx.session.flush()
    active = _active(rt, ctx, rows)
    hooks = rt.plugins.hooks_for(active | {name})
    await call_acting(hooks.plugin_enabled(ctx=ctx, plugin=name, config=config))
    _invalidate_after_commit(rt, ctx)
    return _out(meta, ctx, row, active)


async def disable(rt: Runtime, ctx: TenantContext, name: str) -> PluginOut:
    require_staff(ctx, "owner")
    meta = rt.plugins.meta(name)
    rows = await _rows(ctx, lock=True)
    row = rows.get(name)
    active = _active(rt, ctx, rows)
    if row is not None and row.enabled:
        _refuse_needed(rt, name, active)
        hooks = rt.plugins.hooks_for(active | {name})
        await call_acting(hooks.plugin_disabled(ctx=ctx, plugin=name))
        row.enabled = False
        active = _active(rt, ctx, rows)
        _invalidate_after_commit(rt, ctx)
    return _out(meta, ctx, row, active)


async def update_settings(rt: Runtime, ctx: TenantContext, name: str, settings: Any) -> PluginOut:
    require_staff(ctx, "manager")
    meta = rt.plugins.meta(name)
    config = meta.validate_settings(settings)
    rows = await _rows(ctx)
    row = rows.get(name)
    if row is None:
        row = TenantPlugin(plugin=name, enabled=False, config=msgspec.to_builtins(config))
        ctx.session.add(row)
    else:
        row.config = msgspec.to_builtins(config)
    _invalidate_after_commit(rt, ctx)
    return _out(meta, ctx, row, _active(rt, ctx, rows))
