"""The tenant directory: slug → ``TenantInfo`` without a database query on the hot path, and
the tenant lists that jobs sweep one tenant after another.

Each process keeps the infos it has resolved. A change (suspend, plan, plugin toggle or
settings) bumps a per-tenant version key in Redis; a request reads that one key, and reloads
from the database only when the version moved. That is how a toggle made in one worker process
is seen by every other on its next request. Without Redis there is one process, and a change
drops the local entry directly.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select

from core.context import Branding, TenantInfo
from core.db import Database
from core.errors import NotFound
from core.plugins import active_plugins
from core.tenancy.models import Plan, Tenant, TenantPlugin


def version_key(slug: str) -> str:
    return f"sp:tenant:{{{slug}}}:v"


class TenantDirectory:
    def __init__(
        self,
        db: Database,
        redis: Redis | None,
        features: dict[str, str],
        requires: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self._db = db
        self._redis = redis
        # plugin name -> the plan feature it needs; a plugin outside the plan is off.
        self._features = features
        # plugin name -> the plugins it needs on; a plugin whose dependency is off is off.
        self._requires = requires or {}
        # None caches "no such store", so a flood of made-up slugs does not reach the
        # database; onboarding bumps the slug's version like any other change.
        self._cache: dict[str, tuple[bytes | str | None, TenantInfo | None]] = {}
        # slug -> how often this process dropped its entry. A load that a change overtook
        # (it read the rows before the change committed, and ends after the drop) must not
        # put its stale info back; without Redis no version key would ever correct it.
        self._drops: dict[str, int] = {}

    async def resolve(self, slug: str) -> TenantInfo:
        version = await self._redis.get(version_key(slug)) if self._redis is not None else None
        cached = self._cache.get(slug)
        if cached is not None and cached[0] == version:
            info = cached[1]
        else:
            drops = self._drops.get(slug, 0)
            info = await self.load(slug)
            if self._drops.get(slug, 0) == drops:
                self._cache[slug] = (version, info)
        if info is None:
            raise NotFound(f"no store named {slug!r}", code="tenant.not_found")
        return info

    async def load(self, slug: str) -> TenantInfo | None:
        # One read-only transaction: the tenant row, then its plugins under its own scope.
        async with self._db.read_session() as session:
            row = (
                await session.execute(
                    select(Tenant, Plan.plugins)
                    .join(Plan, Plan.code == Tenant.plan)
                    .where(Tenant.slug == slug)
                )
            ).first()
            if row is None:
                return None
            tenant, plan_plugins = row
            await self._db.enter_tenant(session, tenant.id)
            plugin_rows = (await session.scalars(select(TenantPlugin))).all()
        # A plan downgrade switches plugins off without touching their rows, so moving back
        # to a plan that includes them switches them on again with their settings.
        enabled = active_plugins(
            (p.plugin for p in plugin_rows if p.enabled),
            lambda name: self._features.get(name) in plan_plugins,
            self._requires,
        )
        configs: dict[str, Any] = {p.plugin: dict(p.config) for p in plugin_rows if p.enabled}
        return info_from(tenant, plan_plugins, enabled, configs)

    async def by_id(self, tenant_id: str, plugin: str | None = None) -> TenantInfo | None:
        """The cached info of a tenant id (jobs know ids, the cache knows slugs); None when
        it does not exist, or when ``plugin`` is named and that tenant has it off (a plugin's
        job then does nothing)."""
        async with self._db.read_session() as session:
            slug = await session.scalar(select(Tenant.slug).where(Tenant.id == tenant_id))
        if slug is None:
            return None
        info = await self.resolve(slug)
        return info if plugin is None or plugin in info.enabled_plugins else None

    async def ids(self) -> list[str]:
        """Every tenant's id, in a stable order, for a sweep that sets each tenant in turn
        (row-level security stays on)."""
        async with self._db.read_session() as session:
            return list((await session.scalars(select(Tenant.id).order_by(Tenant.id))).all())

    async def with_plugin(self, plugin: str) -> list[TenantInfo]:
        """Every tenant with ``plugin`` on, for a cron that sweeps them one after another."""
        async with self._db.read_session() as session:
            slugs = list((await session.scalars(select(Tenant.slug).order_by(Tenant.id))).all())
        found = []
        for slug in slugs:  # one query, then the cache: cheap for a minute's cron
            info = await self.resolve(slug)
            if plugin in info.enabled_plugins:
                found.append(info)
        return found

    async def invalidate(self, *slugs: str) -> None:
        """Call after committing a change to tenants or their plugins."""
        for slug in slugs:
            self._cache.pop(slug, None)
            self._drops[slug] = self._drops.get(slug, 0) + 1
        if self._redis is not None and slugs:
            async with self._redis.pipeline(transaction=False) as pipe:
                for slug in slugs:
                    pipe.incr(version_key(slug))
                await pipe.execute()


def info_from(
    tenant: Tenant, plan_plugins: list[str], enabled: frozenset[str], configs: dict[str, Any]
) -> TenantInfo:
    branding = tenant.branding or {}
    return TenantInfo(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        status=tenant.status,
        plan=tenant.plan,
        plan_plugins=frozenset(plan_plugins),
        enabled_plugins=enabled,
        plugin_configs=configs,
        branding=Branding(**{k: v for k, v in branding.items() if k in Branding.__struct_fields__}),
    )
