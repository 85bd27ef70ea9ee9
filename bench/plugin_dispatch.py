"""Benchmark: resolve a request's tenant and its plugin hooks, with few and with many tenants.

What a request pays before its handler runs is ``TenantDirectory.resolve(slug)`` (a Redis GET of
the tenant's version key, then the in-process cache) plus ``PluginRegistry.hooks_for(enabled)``
(a dict lookup keyed by the frozenset of enabled plugins) plus the hook calls themselves. None of
that should grow with the number of tenants: this script measures it with 10 and with 10,000.

For each tenant count it builds a fresh, migrated database, registers six synthetic feature
plugins through ``core.plugins.build_registry``, bulk-inserts the tenants (eight different
combinations of enabled plugins) and keeps a runtime for it. Then it measures, taking turns
between the tenant counts in rounds so that the load of a shared machine hits all of them alike:

* cold path: first resolutions of tenants (a database load each), with and without Redis;
* hot path: random requests once every tenant has been served once (a warm worker process);
* how many ``TenantHooks`` objects exist (one per enabled set, not one per tenant), and how much
  memory the tenant cache keeps per tenant (tracemalloc over the last first resolutions).

Usage::

    uv run python -m bench.plugin_dispatch                       # SQLite, no Redis
    uv run python -m bench.plugin_dispatch --backend postgres    # PostgreSQL + Redis db 10

The PostgreSQL run creates and drops the databases ``storeplug_bench_<tenants>`` and the login
role ``storeplug_bench_app`` through the superuser URL, and flushes the Redis database it uses.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import asyncpg
import pluggy
from redis.asyncio import Redis
from sqlalchemy import event, insert, text
from sqlalchemy.pool import NullPool

from core import migrate
from core.context import TenantInfo
from core.db import create_engine, new_id, utcnow
from core.hookspecs import hookimpl
from core.plugins import PluginMeta, PluginRegistry, TenantHooks, build_registry
from core.runtime import Runtime
from core.settings import Settings, load_settings
from tenants.models import Plan, Tenant, TenantPlugin
from tenants.registry import TenantDirectory, version_key

DEFAULT_PG_SUPER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
PG_DB_PREFIX = "storeplug_bench_"
PG_APP_ROLE = "storeplug_bench_app"
PG_APP_PASSWORD = "storeplug_bench_app"
# Measurements of the tenant counts alternate in this many rounds.
ROUNDS = 10
# A warm worker with many tenants is also measured with requests for only this many of them:
# the same cache, but a working set that stays in the CPU caches.
FOCUS = 10

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


# ---- samples and statistics --------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    count: int
    mean_us: float
    p50_us: float
    p99_us: float

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Stats:
        ordered = sorted(samples_ns)

        def rank(q: float) -> float:
            return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] / 1000

        return cls(
            count=len(ordered),
            mean_us=statistics.fmean(ordered) / 1000,
            p50_us=rank(0.50),
            p99_us=rank(0.99),
        )


@dataclass
class HotSamples:
    """Per-request times (ns) of the hot path and of its three parts."""

    total: list[int] = field(default_factory=list)
    resolve: list[int] = field(default_factory=list)
    hooks_for: list[int] = field(default_factory=list)
    call: list[int] = field(default_factory=list)
    sql_statements: int = 0


@dataclass
class ColdSamples:
    """First-resolution times (ns) and SQL statements sent, for one way of checking the cache."""

    times: list[int] = field(default_factory=list)
    sql_statements: int = 0

    @property
    def statements_each(self) -> float:
        return self.sql_statements / len(self.times)


class StatementCounter:
    """Counts SQL statements sent on an engine (to show the hot path sends none)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args: Any) -> None:
        self.count += 1


def rounds(total: int) -> list[int]:
    """``total`` split into ``ROUNDS`` near-equal parts (the first ones take the remainder)."""
    base, extra = divmod(total, ROUNDS)
    return [base + (1 if index < extra else 0) for index in range(ROUNDS)]


# ---- what is measured ----------------------------------------------------------------------


def new_directory(rt: Runtime, redis: Redis | None) -> TenantDirectory:
    """An empty directory built as ``Runtime.build`` builds ``rt.tenants``, with or without
    Redis (the runtime's own directory serves as the warm worker's)."""
    features = {name: meta.feature for name, meta in rt.plugins.metas.items()}
    return TenantDirectory(rt.db, redis, features)


def hooks_of(registry: PluginRegistry, info: TenantInfo) -> TenantHooks:
    # The same expression Runtime.tenant_context uses for a request's ``ctx.hooks``.
    return registry.hooks_for(info.enabled_plugins & registry.names)


def probe(hooks: TenantHooks) -> list[str]:
    """One hook call as a request would make it (pluggy returns the impls' results)."""
    result: list[str] = hooks.plugin_enabled(ctx=STUB_CTX, plugin=PROBE_PLUGIN, config=None)
    return result


@dataclass
class Scenario:
    """One tenant count: its database, runtime, warm directory and what was measured."""

    tenants: int
    rt: Runtime
    expected: dict[str, frozenset[str]]  # slug → the plugins its hooks must reach
    counter: StatementCounter
    seed_s: float
    directory: TenantDirectory | None = None
    seen: dict[int, TenantHooks] = field(default_factory=dict)
    cold: dict[str, ColdSamples] = field(default_factory=dict)
    hot: HotSamples = field(default_factory=HotSamples)
    # The same warm worker with requests spread over only FOCUS of its tenants.
    hot_focus: HotSamples = field(default_factory=HotSamples)
    redis_get: list[int] = field(default_factory=list)
    # Memory the cache kept for the last ``traced_tenants`` first resolutions (tracemalloc).
    traced_tenants: int = 0
    traced_bytes: int = 0

    @property
    def slugs(self) -> list[str]:
        return list(self.expected)

    @property
    def checks(self) -> list[tuple[str, Redis | None]]:
        """The ways of checking the cache: the Redis version key when configured, and none."""
        local: list[tuple[str, Redis | None]] = [(LOCAL_LABEL, None)]
        return [(REDIS_LABEL, self.rt.redis), *local] if self.rt.redis is not None else local

    @property
    def hot_label(self) -> str:
        return REDIS_LABEL if self.rt.redis is not None else LOCAL_LABEL


async def measure_cold(sc: Scenario, samples: int, rng: random.Random) -> None:
    """First resolutions, one at a time, in fresh directories, taking turns (in alternating
    order) between the ways of checking the cache. A directory is replaced whenever it has
    seen every tenant, so 10 tenants give as many samples as 10,000."""
    for label, _ in sc.checks:
        sc.cold.setdefault(label, ColdSamples())
    directories: dict[str, TenantDirectory] = {}
    pending: list[str] = []
    clock = time.perf_counter_ns
    for sample in range(samples):
        if not pending:
            directories = {label: new_directory(sc.rt, redis) for label, redis in sc.checks}
            pending = sc.slugs
            rng.shuffle(pending)
        slug = pending.pop()
        turns = list(directories.items())
        for label, directory in turns if sample % 2 else reversed(turns):
            cold = sc.cold[label]
            before = sc.counter.count
            t0 = clock()
            info = await directory.resolve(slug)
            t1 = clock()
            cold.sql_statements += sc.counter.count - before
            cold.times.append(t1 - t0)
            probe(hooks_of(sc.rt.plugins, info))  # builds the shared hook callers, untimed


async def warm_up(sc: Scenario, slugs: Sequence[str], concurrency: int) -> None:
    """Serve each of ``slugs`` once, ``concurrency`` requests at a time, as a worker process
    does over time; checks that dispatch reaches exactly the tenant's enabled plugins."""
    directory = sc.directory
    assert directory is not None

    async def serve(slug: str) -> None:
        hooks = hooks_of(sc.rt.plugins, await directory.resolve(slug))
        answered = frozenset(probe(hooks))
        if answered != sc.expected[slug]:
            raise AssertionError(f"{slug}: answered by {answered}, enabled {sc.expected[slug]}")
        sc.seen[id(hooks)] = hooks

    for start in range(0, len(slugs), concurrency):
        await asyncio.gather(*(serve(slug) for slug in slugs[start : start + concurrency]))


@contextmanager
def traced_growth() -> Iterator[list[int]]:
    """Bytes still allocated at the end of the block that were not at its start (tracemalloc,
    after a full collection); the result is appended to the yielded list."""
    result: list[int] = []
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        yield result
        gc.collect()
        result.append(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()


async def measure_hot(sc: Scenario, requests: Sequence[str], hot: HotSamples) -> None:
    """The per-request path of a warm worker: resolve, pick the hooks, call one hook."""
    directory, registry, seen = sc.directory, sc.rt.plugins, sc.seen
    assert directory is not None
    clock = time.perf_counter_ns
    statements_before = sc.counter.count
    for slug in requests:
        t0 = clock()
        info = await directory.resolve(slug)
        t1 = clock()
        hooks = hooks_of(registry, info)
        t2 = clock()
        probe(hooks)
        t3 = clock()
        hot.total.append(t3 - t0)
        hot.resolve.append(t1 - t0)
        hot.hooks_for.append(t2 - t1)
        hot.call.append(t3 - t2)
        seen[id(hooks)] = hooks
    hot.sql_statements += sc.counter.count - statements_before


async def measure_redis_get(sc: Scenario, requests: Sequence[str]) -> None:
    """The Redis GET alone, on the runtime's client, for comparison with the hot path."""
    redis = sc.rt.redis
    assert redis is not None
    clock = time.perf_counter_ns
    for slug in requests:
        t0 = clock()
        await redis.get(version_key(slug))
        sc.redis_get.append(clock() - t0)


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
        await asyncio.to_thread(migrate.upgrade, settings)
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


# ---- the run -------------------------------------------------------------------------------


class Progress:
    """Prints each finished step and how long it took on stderr (the tables go to stdout)."""

    def __init__(self) -> None:
        self._last = time.perf_counter()

    def __call__(self, done: str) -> None:
        now = time.perf_counter()
        print(f"  {done} ({now - self._last:.1f} s)", file=sys.stderr, flush=True)
        self._last = now


@dataclass(frozen=True)
class Options:
    tenant_counts: list[int]
    requests: int
    cold_samples: int
    concurrency: int
    memory_sample: int
    loop: str


async def prepare(
    backend: Backend, plugin_modules: tuple[str, ...], count: int, concurrency: int
) -> Scenario:
    settings = await backend.fresh_settings(plugin_modules, count)
    started = time.perf_counter()
    expected = await seed(settings, count)
    seed_s = time.perf_counter() - started
    registry = build_registry(settings.plugin_modules)
    missing = {plugin_name(f) for f in FEATURES} - registry.names
    if missing:
        raise RuntimeError(f"synthetic plugins not registered: {sorted(missing)}")
    rt = Runtime.build(settings, plugins=registry)
    counter = StatementCounter()
    event.listen(rt.db.engine.sync_engine, "before_cursor_execute", counter)
    sc = Scenario(tenants=count, rt=rt, expected=expected, counter=counter, seed_s=seed_s)
    if rt.redis is not None:
        await bump_versions(rt.redis, sc.slugs)
    # Open the pool's connections and compile the statements outside the measurements.
    first = sc.slugs[0]
    await asyncio.gather(*(new_directory(rt, rt.redis).resolve(first) for _ in range(concurrency)))
    return sc


async def run(backend: Backend, options: Options, rng: random.Random) -> list[Scenario]:
    step = Progress()
    plugin_modules = install_synthetic_plugins()
    scenarios: list[Scenario] = []
    try:
        await backend.setup()
        for count in options.tenant_counts:
            scenarios.append(await prepare(backend, plugin_modules, count, options.concurrency))
            step(f"{count:,} tenants: fresh database, migrated, seeded")

        for part in rounds(options.cold_samples):
            for sc in scenarios:
                await measure_cold(sc, part, rng)
        step("cold path")

        for sc in scenarios:
            # A worker that has served every tenant once; what it retains is the cache.
            sc.directory = sc.rt.tenants
            order = sc.slugs
            rng.shuffle(order)
            # tracemalloc triples the cost of a load, so only the last tenants are traced.
            traced = min(sc.tenants, options.memory_sample)
            await warm_up(sc, order[:-traced], options.concurrency)
            with traced_growth() as growth:
                await warm_up(sc, order[-traced:], options.concurrency)
            sc.traced_tenants, sc.traced_bytes = traced, growth[0]
            step(f"{sc.tenants:,} tenants: warm-up at concurrency {options.concurrency}")

        for part in rounds(options.requests):
            for sc in scenarios:
                await measure_hot(sc, rng.choices(sc.slugs, k=part), sc.hot)
                if sc.tenants > FOCUS:
                    focus = sc.slugs[:FOCUS]
                    await measure_hot(sc, rng.choices(focus, k=part), sc.hot_focus)
        step("hot path")

        if backend.redis_url:
            for part in rounds(options.requests):
                for sc in scenarios:
                    await measure_redis_get(sc, rng.choices(sc.slugs, k=part))
            step("bare Redis GET")
    finally:
        for sc in scenarios:
            await sc.rt.close()
        await backend.cleanup()
    return scenarios


# ---- report --------------------------------------------------------------------------------


def _us(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _load() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def render(
    backend: Backend,
    scenarios: Sequence[Scenario],
    options: Options,
    wall_s: float,
    load_before: str,
) -> str:
    lines = [
        f"backend: **{backend.name}**, Redis: {backend.redis_url or 'none'}, loop: {options.loop}, "
        f"Python {platform.python_version()}, pluggy {pluggy.__version__}, "
        f"nproc {os.cpu_count()}, {len(FEATURES)} synthetic feature plugins, "
        f"{len(COMBOS)} enabled-set combinations; per tenant count {options.requests:,} hot "
        f"requests and {options.cold_samples:,} cold resolutions, the tenant counts taking "
        f"turns in {ROUNDS} rounds; load average (1/5/15 min) before {load_before}, after "
        f"{_load()}; wall time {wall_s:.1f} s",
        "",
        "Hot path per request (a warm worker: every tenant served once), µs:",
        "",
        "| tenants | tenant cache check | mean | p50 | p99 | resolve (mean) "
        "| hooks_for (mean) | hook call (mean) | SQL statements |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for sc in scenarios:
        rows = [(f"{sc.tenants:,}", sc.hot)]
        if sc.hot_focus.total:
            rows.append((f"{sc.tenants:,}, requests for {FOCUS} of them", sc.hot_focus))
        for tenants, hot in rows:
            total = Stats.of(hot.total)
            lines.append(
                f"| {tenants} | {sc.hot_label} | {_us(total.mean_us)} | {_us(total.p50_us)} "
                f"| {_us(total.p99_us)} | {_us(Stats.of(hot.resolve).mean_us)} "
                f"| {_us(Stats.of(hot.hooks_for).mean_us)} | {_us(Stats.of(hot.call).mean_us)} "
                f"| {hot.sql_statements} |"
            )
    gets = [(sc.tenants, Stats.of(sc.redis_get)) for sc in scenarios if sc.redis_get]
    if gets:
        lines += [
            "",
            "Bare `GET` of a version key on the same client, µs: "
            + "; ".join(
                f"{n:,} tenants: mean {_us(g.mean_us)}, p50 {_us(g.p50_us)}, p99 {_us(g.p99_us)}"
                for n, g in gets
            ),
        ]
    lines += [
        "",
        "Cold path: first resolution of a tenant (database load), one at a time, µs:",
        "",
        "| tenants | tenant cache check | mean | p50 | p99 | SQL statements each |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for sc in scenarios:
        for label, cold in sc.cold.items():
            c = Stats.of(cold.times)
            lines.append(
                f"| {sc.tenants:,} | {label} | {_us(c.mean_us)} | {_us(c.p50_us)} "
                f"| {_us(c.p99_us)} | {cold.statements_each:g} |"
            )
    lines += [
        "",
        "Sharing and memory:",
        "",
        "| tenants | seed (bulk insert) | distinct enabled sets | TenantHooks objects "
        "| cache per tenant (tracemalloc) | traced over | whole cache, ≈ tenants × per tenant |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for sc in scenarios:
        per_tenant = sc.traced_bytes / sc.traced_tenants
        lines.append(
            f"| {sc.tenants:,} | {sc.seed_s:.2f} s | {len(set(sc.expected.values()))} "
            f"| {len(sc.seen)} | {per_tenant:,.0f} B | {sc.traced_tenants:,} tenants "
            f"| {per_tenant * sc.tenants / 2**20:,.2f} MiB |"
        )
    return "\n".join(lines)


# ---- entry point ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Options]:
    parser = argparse.ArgumentParser(prog="python -m bench.plugin_dispatch", description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--tenants",
        default="10,10000",
        help="comma-separated tenant counts, each in a fresh database (default: 10,10000)",
    )
    parser.add_argument("--requests", type=int, default=20_000, help="hot requests per count")
    parser.add_argument(
        "--cold-samples", type=int, default=500, help="cold resolutions per count (default 500)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="requests in flight while warming up (default: 1 with sqlite, whose transactions "
        "all take the write lock, 8 with postgres, within its pool of 10)",
    )
    parser.add_argument(
        "--memory-sample",
        type=int,
        default=1_000,
        help="first resolutions traced with tracemalloc for the cache's size (default 1000)",
    )
    parser.add_argument(
        "--redis-url",
        default=None,
        help=f"Redis for the version keys; flushed (default: {DEFAULT_REDIS_URL} with "
        "postgres, none with sqlite; 'none' turns it off)",
    )
    parser.add_argument("--pg-super-url", default=DEFAULT_PG_SUPER_URL)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args(argv)
    try:
        counts = list(dict.fromkeys(int(part) for part in args.tenants.split(",") if part.strip()))
    except ValueError:
        parser.error("--tenants takes comma-separated integers, e.g. 10,10000")
    if args.concurrency is None:
        args.concurrency = 8 if args.backend == "postgres" else 1
    numbers = [args.requests, args.cold_samples, args.concurrency, args.memory_sample]
    if not counts or min([*counts, *numbers]) < 1:
        parser.error("tenant counts and the other numbers must be positive")
    if args.requests < ROUNDS or args.cold_samples < ROUNDS:
        parser.error(f"--requests and --cold-samples must be at least {ROUNDS}")
    if args.redis_url is None:
        args.redis_url = DEFAULT_REDIS_URL if args.backend == "postgres" else ""
    elif args.redis_url.lower() == "none":
        args.redis_url = ""
    options = Options(
        tenant_counts=counts,
        requests=args.requests,
        cold_samples=args.cold_samples,
        concurrency=args.concurrency,
        memory_sample=args.memory_sample,
        loop=args.loop,
    )
    return args, options


async def amain(args: argparse.Namespace, options: Options, workdir: Path) -> str:
    started, load_before = time.perf_counter(), _load()
    backend = Backend(args.backend, args.pg_super_url, args.redis_url, workdir)
    scenarios = await run(backend, options, random.Random(args.seed))
    return render(backend, scenarios, options, time.perf_counter() - started, load_before)


def main(argv: Sequence[str] | None = None) -> None:
    args, options = parse_args(argv)
    if options.loop == "uvloop":
        import uvloop  # what `storeplug serve` runs under

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    with tempfile.TemporaryDirectory(prefix="storeplug-bench-") as tmp:
        print(asyncio.run(amain(args, options, Path(tmp))))


if __name__ == "__main__":
    main()
