"""Setup for bench.plugin_dispatch: synthetic feature plugins registered through the real
plugin manager, and fresh databases (SQLite or PostgreSQL with a non-owner role) seeded with
many tenants in bulk."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import asyncpg
from redis.asyncio import Redis
from sqlalchemy import insert, text
from sqlalchemy.pool import NullPool

from core.db import create_engine, new_id, utcnow
from core.hookspecs import hookimpl
from core.plugins import PluginMeta
from core.settings import Settings, load_settings
from core.tenancy.directory import version_key
from core.tenancy.models import Plan, Tenant, TenantPlugin
from storeplug.runtime import upgrade_database

DEFAULT_PG_SUPER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
PG_DB_PREFIX = "storeplug_bench_"
PG_APP_ROLE = "storeplug_bench_app"
PG_APP_PASSWORD = "storeplug_bench_app"

# ---- synthetic feature plugins -----------------------------------------------------------

FEATURES = ("loyalty", "coupons", "points", "groupbuy", "flashsale", "giftcards")
MODULE_PREFIX = "storeplug_bench_plugin_"
PLUGIN_PREFIX = "bench_"
PROBE_PLUGIN = PLUGIN_PREFIX + FEATURES[0]


def plugin_name(feature: str) -> str:
    return PLUGIN_PREFIX + feature


def synthetic_plugin(feature: str, *, with_disabled_hook: bool) -> ModuleType:
    """A tiny feature plugin module: ``META`` plus lifecycle hookimpls that return its name."""
    name = plugin_name(feature)

    def plugin_enabled(ctx: Any, plugin: str, config: Any) -> str:
        return name

    def plugin_disabled(ctx: Any, plugin: str) -> str:
        return name

    module = ModuleType(MODULE_PREFIX + feature)
    namespace: dict[str, Any] = {
        "META": PluginMeta(
            name=name,
            title=feature.title(),
            description=f"Synthetic {feature} plugin for bench.plugin_dispatch.",
            version="0.0.1",
        ),
        "plugin_enabled": hookimpl(plugin_enabled),
    }
    if with_disabled_hook:
        namespace["plugin_disabled"] = hookimpl(plugin_disabled)
    module.__dict__.update(namespace)
    return module


def install_synthetic_plugins() -> tuple[str, ...]:
    """Put the synthetic modules in ``sys.modules`` so ``build_registry`` imports them by name."""
    names = []
    for index, feature in enumerate(FEATURES):
        module = synthetic_plugin(feature, with_disabled_hook=index % 2 == 0)
        sys.modules[module.__name__] = module
        names.append(module.__name__)
    return tuple(names)


@dataclass(frozen=True)
class Combo:
    """One tenant shape: its plan, the plugins it has on, and rows it switched off (kept)."""

    plan: str
    enabled: tuple[str, ...]
    disabled: tuple[str, ...] = ()

    @property
    def enabled_plugins(self) -> frozenset[str]:
        return frozenset(plugin_name(f) for f in self.enabled)


PLANS: dict[str, tuple[str, ...]] = {
    "bench-basic": ("loyalty", "coupons", "points"),
    "bench-pro": FEATURES,
}
COMBOS: tuple[Combo, ...] = (
    Combo("bench-basic", ()),
    Combo("bench-basic", ("loyalty",)),
    Combo("bench-basic", ("loyalty", "coupons"), disabled=("points",)),
    Combo("bench-basic", ("loyalty", "coupons", "points")),
    Combo("bench-pro", ("groupbuy", "flashsale"), disabled=("loyalty",)),
    Combo("bench-pro", ("loyalty", "points", "giftcards")),
    Combo("bench-pro", ("coupons", "groupbuy", "flashsale", "giftcards"), disabled=("points",)),
    Combo("bench-pro", FEATURES),
)

# What a hook gets as ``ctx`` here; the synthetic hookimpls never look at it.
STUB_CTX = object()

REDIS_LABEL = "Redis version key"
LOCAL_LABEL = "none (in-process only)"


# ---- databases -----------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    pg_super_url: str
    redis_url: str
    workdir: Path
    databases: list[str] = field(default_factory=list)

    async def setup(self) -> None:
        await self._flush_redis()
        if self.name == "postgres":
            conn = await asyncpg.connect(self.pg_super_url)
            try:
                role = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", PG_APP_ROLE)
                if not role:
                    await conn.execute(
                        f"CREATE ROLE {PG_APP_ROLE} LOGIN PASSWORD '{PG_APP_PASSWORD}' NOBYPASSRLS"
                    )
            finally:
                await conn.close()

    async def fresh_settings(self, plugin_modules: tuple[str, ...], tenants: int) -> Settings:
        """A new empty database for ``tenants``, migrated to head."""
        overrides: dict[str, Any] = {"redis_url": self.redis_url, "plugin_modules": plugin_modules}
        if self.name == "sqlite":
            path = self.workdir / f"bench-{tenants}-{new_id()}.db"  # in a fresh temp dir
            settings = load_settings({}, database_url=f"sqlite+aiosqlite:///{path}", **overrides)
        else:
            owner_url, app_url = await self._fresh_postgres(f"{PG_DB_PREFIX}{tenants}")
            settings = load_settings(
                {}, database_url=app_url, migration_database_url=owner_url, **overrides
            )
        await asyncio.to_thread(upgrade_database, settings)
        return settings

    async def _fresh_postgres(self, database: str) -> tuple[str, str]:
        """Drop and create ``database``; the app connects as a non-owner role without
        BYPASSRLS, as docs/deployment.md asks, so row-level security is part of the cost."""
        conn = await asyncpg.connect(self.pg_super_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{database}"')
            self.databases.append(database)
        finally:
            await conn.close()
        conn = await asyncpg.connect(self._super_url_of(database))
        try:
            await conn.execute(f"GRANT USAGE ON SCHEMA public TO {PG_APP_ROLE}")
            await conn.execute(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {PG_APP_ROLE}"
            )
        finally:
            await conn.close()
        parsed = urlparse(self.pg_super_url)
        host = f"{parsed.hostname or '127.0.0.1'}:{parsed.port or 5432}"
        app_url = f"postgresql+asyncpg://{PG_APP_ROLE}:{PG_APP_PASSWORD}@{host}/{database}"
        owner_url = self._super_url_of(database).replace(
            "postgresql://", "postgresql+asyncpg://", 1
        )
        return owner_url, app_url

    def _super_url_of(self, database: str) -> str:
        return self.pg_super_url.rsplit("/", 1)[0] + f"/{database}"

    async def _flush_redis(self) -> None:
        if self.redis_url:
            redis = Redis.from_url(self.redis_url)
            await redis.flushdb()
            await redis.aclose()

    async def cleanup(self) -> None:
        await self._flush_redis()
        if self.name != "postgres":
            return  # the SQLite files live in a temporary directory
        conn = await asyncpg.connect(self.pg_super_url)
        try:
            for database in self.databases:
                await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await conn.execute(f"DROP ROLE IF EXISTS {PG_APP_ROLE}")
        finally:
            await conn.close()


async def seed(settings: Settings, count: int) -> dict[str, frozenset[str]]:
    """Bulk-insert plans, ``count`` tenants and their tenant_plugins rows as the table owner.
    Returns slug → enabled plugins."""
    now = utcnow()
    plans = [
        {"code": code, "name": code, "plugins": [plugin_name(f) for f in features]}
        for code, features in PLANS.items()
    ]
    tenants: list[dict[str, Any]] = []
    plugin_rows: list[dict[str, Any]] = []
    expected: dict[str, frozenset[str]] = {}
    for index in range(count):
        combo = COMBOS[index % len(COMBOS)]
        tenant_id, slug = new_id(), f"shop-{index:05d}"
        tenants.append(
            {
                "id": tenant_id,
                "slug": slug,
                "name": f"Shop {index}",
                "plan": combo.plan,
                "status": "active",
                "branding": {"display_name": f"Shop {index}", "primary_color": "#C1071B"},
                "contact": {"email": f"owner{index}@example.com"},
                "created_at": now,
                "updated_at": now,
            }
        )
        for feature, enabled in [(f, True) for f in combo.enabled] + [
            (f, False) for f in combo.disabled
        ]:
            plugin_rows.append(
                {
                    "tenant_id": tenant_id,
                    "plugin": plugin_name(feature),
                    "enabled": enabled,
                    "config": {"threshold": index % 100, "label": feature} if enabled else {},
                    "updated_at": now,
                }
            )
        expected[slug] = combo.enabled_plugins
    engine = create_engine(settings.owner_database_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(Plan), plans)
            await conn.execute(insert(Tenant), tenants)
            await conn.execute(insert(TenantPlugin), plugin_rows)
            await conn.execute(text("ANALYZE"))  # planner statistics, as a live database has
    finally:
        await engine.dispose()
    return expected


async def bump_versions(redis: Redis, slugs: Sequence[str]) -> None:
    """Give every tenant a version key, as after any change in its life (the GET then returns
    a value, the steady state of a live deployment)."""
    for start in range(0, len(slugs), 1000):
        await redis.mset({version_key(s): 1 for s in slugs[start : start + 1000]})
