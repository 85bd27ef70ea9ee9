"""Samples, statistics and the markdown report of bench.plugin_dispatch."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from bench.dispatch_setup import COMBOS, FEATURES, Backend

if TYPE_CHECKING:
    from bench.plugin_dispatch import Options, Scenario

# Measurements of the tenant counts alternate in this many rounds.
ROUNDS = 10
# A warm worker with many tenants is also measured with requests for only this many of them:
# the same cache, but a working set that stays in the CPU caches.
FOCUS = 10


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


# ---- report --------------------------------------------------------------------------------


def _us(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def load_average() -> str:
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
        f"{load_average()}; wall time {wall_s:.1f} s",
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
