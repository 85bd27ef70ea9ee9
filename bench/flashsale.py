"""Benchmark: a flash sale burst against a real multi-worker server on PostgreSQL + Redis.

For each round the script opens a sale of ``--units`` units (limit 1 per member) in two
stores of the same server, one selling through the Redis gate and one in the database-only
mode, and sends every one of ``--buyers`` members one buy at once over ``--connections``
keep-alive connections; then the same number of ``GET /healthz`` (the server's no-op
endpoint) over the same connections. The three take turns in every round, in rotating
order, so the load of a shared machine hits them alike. For each burst it reports
throughput, p50/p99 latency (of all answers, and of the winners and the sold-out answers
apart), the answers by code, and what the database holds afterwards: units sold, oversold
(sold beyond the sale's units, or members beyond their limit; must be 0) and, on Redis,
whether Redis and the database agree. Ratios are taken within each round.

Usage::

    uv run python -m bench.flashsale                  # 2,000 buyers, 500 connections, 100 units
    uv run python -m bench.flashsale --rounds 1 --buyers 500

It runs ``storeplug serve`` (``--workers`` processes, uvicorn) and ``storeplug worker`` as
child processes on a free port, creates and drops the database ``storeplug_bench_flashsale``
through the superuser URL, and flushes the Redis database it uses (``--redis-url``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import func, select

from bench.flashsale_setup import (
    DEFAULT_PG_SUPER_URL,
    DEFAULT_REDIS_URL,
    Store,
    drop_database,
    new_sale,
    new_store,
    seed_buyers,
    settings_for,
    start_processes,
    stop_processes,
    wait_ready,
)
from core.runtime import Runtime
from plugins.flashsale import preheat
from plugins.flashsale.models import FlashItem, FlashMember, FlashOrder
from storeplug.runtime import build_runtime

Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


@dataclass
class Burst:
    scenario: str
    wall_s: float
    samples: list[tuple[int, int, str]]  # (latency ns, status, problem code)
    sold: int = 0
    oversold: int = 0
    agree: str = "—"

    @property
    def throughput(self) -> float:
        return len(self.samples) / self.wall_s

    def quantile(self, q: float, status: int | None = None) -> float:
        times = sorted(t for t, s, _ in self.samples if status is None or s == status)
        if not times:
            return float("nan")
        return times[min(len(times) - 1, round(q * (len(times) - 1)))] / 1e6

    @property
    def answers(self) -> str:
        counts = Counter(f"{s} {c}".strip() for _, s, c in self.samples)
        return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


@dataclass
class Round:
    bursts: dict[str, Burst] = field(default_factory=dict)


async def fire(base_url: str, requests: list[Request], connections: int) -> Burst:
    """Send ``requests``, ``connections`` at a time, each on a new connection, as each buyer's
    phone is a client of its own (and no keep-alive connection can close under a request)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as http:
        return await _fire(http, requests, connections)


async def _fire(http: httpx.AsyncClient, requests: list[Request], connections: int) -> Burst:
    gate = asyncio.Semaphore(connections)
    clock = time.perf_counter_ns

    async def one(request: Request) -> tuple[int, int, str]:
        async with gate:
            t0 = clock()
            try:
                response = await request(http)
            except httpx.TransportError as exc:  # counted in the answers, never hidden
                return clock() - t0, 0, type(exc).__name__
            elapsed = clock() - t0
        code = ""
        if response.status_code >= 400:
            code = response.json().get("code", "")
        return elapsed, response.status_code, code

    start = time.perf_counter()
    samples = await asyncio.gather(*(one(r) for r in requests))
    return Burst(scenario="", wall_s=time.perf_counter() - start, samples=list(samples))


def buys(store: Store, sale: dict[str, str], tag: str) -> list[Request]:
    path = f"{store.store}/flashsale/{sale['id']}/buy"

    def request(member: tuple[str, str, str], key: str) -> Request:
        _, token, address = member
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        body = {
            "sku_id": sale["sku_id"],
            "fulfillment": "express",
            "fulfillment_data": {"address_id": address},
        }
        return lambda http: http.post(path, json=body, headers=headers)

    return [request(m, f"{tag}-{i}") for i, m in enumerate(store.buyers)]


async def check(rt: Runtime, store: Store, sale: dict[str, str], units: int, burst: Burst) -> None:
    """What the database holds after the burst: units sold, oversold, Redis agreeing."""
    async with rt.db.tenant_session(store.tenant_id) as session:
        item = await session.scalar(select(FlashItem).where(FlashItem.activity_id == sale["id"]))
        orders = await session.scalar(
            select(func.count()).select_from(FlashOrder).where(FlashOrder.activity_id == sale["id"])
        )
        over_limit = await session.scalar(
            select(func.count())
            .select_from(FlashMember)
            .where(FlashMember.activity_id == sale["id"], FlashMember.bought > 1)
        )
    assert item is not None
    burst.sold = item.sold
    burst.oversold = max(item.sold - units, (orders or 0) - units, 0) + (over_limit or 0)
    if store.mode == "redis":
        tenant = await rt.tenants.resolve(store.slug)
        found = await preheat.compare(rt, tenant, sale["id"])
        agreed = not found.get("missing") and not found["stock"] and not found["members"]
        burst.agree = "yes" if agreed else f"no: {found}"


def _ms(value: float) -> str:
    return f"{value:.1f}"


def render(args: argparse.Namespace, rounds: list[Round], header: str) -> str:
    lines = [header, ""]
    lines.append(
        "| round | burst | requests | wall s | req/s | p50 ms | p99 ms | winners p50 / p99 ms "
        "| sold-out p50 / p99 ms | answers | sold | oversold | Redis = DB |"
    )
    lines.append(
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |"
    )
    for n, rnd in enumerate(rounds, 1):
        for name in ("no-op", "flash (Redis)", "flash (database only)"):
            b = rnd.bursts[name]
            flash = name != "no-op"
            lines.append(
                f"| {n} | {name} | {len(b.samples)} | {b.wall_s:.2f} | {b.throughput:.0f} "
                f"| {_ms(b.quantile(0.5))} | {_ms(b.quantile(0.99))} "
                + (
                    f"| {_ms(b.quantile(0.5, 201))} / {_ms(b.quantile(0.99, 201))} "
                    f"| {_ms(b.quantile(0.5, 409))} / {_ms(b.quantile(0.99, 409))} "
                    if flash
                    else "| — | — "
                )
                + f"| {b.answers} | {b.sold if flash else '—'} | {b.oversold if flash else '—'} "
                f"| {b.agree} |"
            )
    lines += ["", "Ratios within each round (throughput; p99):", ""]
    lines.append("| round | Redis / no-op | database only / no-op | database only / Redis |")
    lines.append("| ---: | ---: | ---: | ---: |")
    ratios: list[tuple[float, float, float]] = []
    for n, rnd in enumerate(rounds, 1):
        noop, redis, db = (
            rnd.bursts[k] for k in ("no-op", "flash (Redis)", "flash (database only)")
        )
        r = (
            redis.throughput / noop.throughput,
            db.throughput / noop.throughput,
            db.throughput / redis.throughput,
        )
        ratios.append(r)
        p99 = (
            redis.quantile(0.99) / noop.quantile(0.99),
            db.quantile(0.99) / noop.quantile(0.99),
            db.quantile(0.99) / redis.quantile(0.99),
        )
        cells = " | ".join(f"{r[i]:.2f}; {p99[i]:.2f}" for i in range(3))
        lines.append(f"| {n} | {cells} |")
    if len(ratios) > 1:
        med = [statistics.median(col) for col in zip(*ratios, strict=True)]
        lines.append(f"| median | {med[0]:.2f} | {med[1]:.2f} | {med[2]:.2f} |")
    return "\n".join(lines)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


async def run(args: argparse.Namespace) -> str:
    settings = await settings_for(args.pg_super_url, args.redis_url, _free_port(), args.workers)
    with tempfile.NamedTemporaryFile(prefix="flashsale-bench-", suffix=".log", delete=False) as log:
        print(f"server log: {log.name}", file=sys.stderr)
        processes = start_processes(settings, log)
        rt = build_runtime(settings)
        load_before, started = _load(), time.perf_counter()
        try:
            rounds = await _rounds(args, rt, f"http://127.0.0.1:{settings.port}")
        finally:
            stop_processes(processes)
            await rt.close()
            if not args.keep:
                await drop_database(args.pg_super_url, args.redis_url)
    header = (
        f"buyers: **{args.buyers}** per burst (one buy each, limit 1 per member), units: "
        f"**{args.units}**, connections: **{args.connections}**, server: `storeplug serve` with "
        f"{args.workers} uvicorn workers + `storeplug worker`, PostgreSQL + Redis "
        f"({args.redis_url}), Python {platform.python_version()}, nproc {_nproc()}; "
        f"load average (1/5/15 min) before {load_before}, after {_load()}; "
        f"wall time {time.perf_counter() - started:.1f} s"
    )
    return render(args, rounds, header)


async def _rounds(args: argparse.Namespace, rt: Runtime, url: str) -> list[Round]:
    rounds: list[Round] = []
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        await wait_ready(http)
        stores = {
            "flash (Redis)": await new_store(http, "redis"),
            "flash (database only)": await new_store(http, "database"),
        }
        for store in stores.values():
            await seed_buyers(rt, store, args.buyers)
        names = ["no-op", *stores]
        for n in range(args.rounds):
            rnd = Round()
            order = names[n % 3 :] + names[: n % 3]
            print(f"round {n + 1}: {', '.join(order)}", file=sys.stderr)
            for name in order:
                if name == "no-op":
                    noop: Request = lambda h: h.get("/healthz")  # noqa: E731
                    burst = await fire(url, [noop] * args.buyers, args.connections)
                else:
                    store = stores[name]
                    sale = await new_sale(rt, http, store, args.units)
                    await asyncio.sleep(0.5)  # the preheat job loads the Redis keys
                    burst = await fire(url, buys(store, sale, f"r{n}"), args.connections)
                    await check(rt, store, sale, args.units, burst)
                burst.scenario = name
                rnd.bursts[name] = burst
            rounds.append(rnd)
    return rounds


def _nproc() -> int:
    return os.cpu_count() or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg-super-url", default=DEFAULT_PG_SUPER_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
