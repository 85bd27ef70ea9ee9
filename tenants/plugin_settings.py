"""A merchant turns feature plugins on and off and edits their settings.

The plan decides what may be enabled; settings are validated against the plugin's msgspec
Struct on save; turning a plugin off keeps its row and its data. Every change bumps the tenant's
version so all worker processes pick it up on their next request.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import select

from core.auth import require_staff
from core.context import TenantContext
from core.errors import AppError
from core.plugins import PluginMeta, call_acting
from core.runtime import Runtime
from core.tenancy.models import TenantPlugin
from tenants.schemas import PluginOut


def _out(meta: PluginMeta, ctx: TenantContext, row: TenantPlugin | None) -> PluginOut:
    config = meta.validate_settings(row.config if row else None)
    in_plan = meta.feature in ctx.tenant.plan_plugins
    return PluginOut(
        name=meta.name,
        title=meta.title,
        description=meta.description,
        version=meta.version,
        in_plan=in_plan,
        # On only while the plan includes it; the stored choice returns with the plan.
        enabled=bool(row and row.enabled and in_plan),
        settings=msgspec.to_builtins(config),
        settings_schema=meta.settings_schema(),
    )


async def list_plugins(rt: Runtime, ctx: TenantContext) -> list[PluginOut]:
    rows = {r.plugin: r for r in await ctx.session.scalars(select(TenantPlugin))}
    return [_out(meta, ctx, rows.get(name)) for name, meta in sorted(rt.plugins.metas.items())]


async def _row(ctx: TenantContext, name: str) -> TenantPlugin | None:
    return await ctx.session.get(TenantPlugin, (ctx.tenant_id, name))


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
    row = await _row(ctx, name)
    raw = settings if settings is not None else (row.config if row else None)
    config = meta.validate_settings(raw)
    if row is None:
        row = TenantPlugin(plugin=name, enabled=True, config=msgspec.to_builtins(config))
        ctx.session.add(row)
    else:
        was_enabled = row.enabled
        row.enabled, row.config = True, msgspec.to_builtins(config)
        if was_enabled:
            _invalidate_after_commit(rt, ctx)
            return _out(meta, ctx, row)
    await ctx.session.flush()
    hooks = rt.plugins.hooks_for(ctx.tenant.enabled_plugins | {name})
    await call_acting(hooks.plugin_enabled(ctx=ctx, plugin=name, config=config))
    _invalidate_after_commit(rt, ctx)
    return _out(meta, ctx, row)


async def disable(rt: Runtime, ctx: TenantContext, name: str) -> PluginOut:
    require_staff(ctx, "owner")
    meta = rt.plugins.meta(name)
    row = await _row(ctx, name)
    if row is not None and row.enabled:
        hooks = rt.plugins.hooks_for(ctx.tenant.enabled_plugins | {name})
        await call_acting(hooks.plugin_disabled(ctx=ctx, plugin=name))
        row.enabled = False
        _invalidate_after_commit(rt, ctx)
    return _out(meta, ctx, row)


async def update_settings(rt: Runtime, ctx: TenantContext, name: str, settings: Any) -> PluginOut:
    require_staff(ctx, "manager")
    meta = rt.plugins.meta(name)
    config = meta.validate_settings(settings)
    row = await _row(ctx, name)
    if row is None:
        row = TenantPlugin(plugin=name, enabled=False, config=msgspec.to_builtins(config))
        ctx.session.add(row)
    else:
        row.config = msgspec.to_builtins(config)
    _invalidate_after_commit(rt, ctx)
    return _out(meta, ctx, row)
