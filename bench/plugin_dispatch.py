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
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import event

from bench.dispatch_report import (
    FOCUS,
    ROUNDS,
    ColdSamples,
    HotSamples,
    StatementCounter,
    load_average,
    render,
    rounds,
)
from bench.dispatch_setup import (
    DEFAULT_PG_SUPER_URL,
    DEFAULT_REDIS_URL,
    FEATURES,
    LOCAL_LABEL,
    PROBE_PLUGIN,
    REDIS_LABEL,
    STUB_CTX,
    Backend,
    bump_versions,
    install_synthetic_plugins,
    plugin_name,
    seed,
)
from core.context import TenantInfo
from core.plugins import PluginRegistry, TenantHooks, build_registry
from core.runtime import Runtime
from core.tenancy.directory import TenantDirectory, version_key
from storeplug.runtime import build_runtime

# ---- what is measured ----------------------------------------------------------------------


def new_directory(rt: Runtime, redis: Redis | None) -> TenantDirectory:
    """An empty directory built as ``build_runtime`` builds ``rt.tenants``, with or without
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
    rt = build_runtime(settings, plugins=registry)
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
    started, load_before = time.perf_counter(), load_average()
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
