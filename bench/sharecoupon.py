"""Benchmark: friends claiming share coupons, against a real multi-worker server on
PostgreSQL + Redis, driven by wrk (a C load generator) over keep-alive connections.

Each round runs five bursts of ``--seconds`` each over the same ``--connections``, in a
rotating order, and reports each one's throughput and latency beside the first, the anchor
measured in the same run:

- ``no-op``: ``GET /healthz`` (no database), the anchor;
- ``share page``: the public ``GET /sharecoupon/shares/{token}`` of one pack;
- ``claim, coupons left``: claims spread over ``--packs`` fresh packs of 100 (every claim
  wins until the packs run out): the whole claim, coupon issued through the core coupons
  engine;
- ``claim, race for one pack``: every connection claims from one fresh pack of 100 with a
  different member each time: 100 win, the rest get ``sharecoupon.pack_empty``;
- ``claim, empty pack``: taps on a pack with nothing left (the viral link after the race).

The claim is one conditional UPDATE per count (campaign, pack) in the request's
transaction; nothing else gates it. After each round the database is checked: for every
pack, ``claimed`` = claim rows = distinct coupons issued ≤ 100 ("overfilled" must be 0).

Usage::

    apt-get install -y wrk                     # once; Debian's package
    uv run python -m bench.sharecoupon         # 3 rounds, 32 connections, 15 s bursts
    uv run python -m bench.sharecoupon --rounds 1 --seconds 5

It runs ``storeplug serve`` (``--workers`` processes) and ``storeplug worker`` as child
processes on a free port, in a fresh database (the flash sale bench's setup; dropped at the
end unless ``--keep``), and flushes its Redis database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from bench.flashsale import _free_port, _load, _nproc
from bench.flashsale_setup import (
    DEFAULT_PG_SUPER_URL,
    DEFAULT_REDIS_URL,
    SECRET,
    Store,
    drop_database,
    new_store,
    seed_buyers,
    settings_for,
    start_processes,
    stop_processes,
    wait_ready,
)
from core.db import utcnow
from core.members.models import Member
from core.runtime import Runtime
from plugins.sharecoupon.models import ShareClaim, SharePack
from plugins.sharecoupon.rules import day_of, share_token, token_hash
from storeplug.runtime import build_runtime

PACK_SIZE = 100
BURSTS = (
    "no-op",
    "share page",
    "claim, coupons left",
    "claim, race for one pack",
    "claim, empty pack",
)

# One wrk script for every burst: request k goes to path (k mod #paths) as member
# (k div #paths) mod #tokens, so a (pack, member) pair repeats only after every pair was
# sent; each answer is counted by status and problem code.
LUA = """
local paths = {%(paths)s}
local tokens = {%(tokens)s}
local method = "%(method)s"
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  n = 0
  codes = {}
  nthreads = %(threads)d
end
function request()
  local i = n * nthreads + tid
  n = n + 1
  local headers = {}
  if #tokens > 0 then
    local member = math.floor(i / #paths) %% #tokens
    headers["Authorization"] = "Bearer " .. tokens[member + 1]
  end
  if method == "POST" then headers["Content-Length"] = "0" end
  return wrk.format(method, paths[(i %% #paths) + 1], headers)
end
function response(status, headers, body)
  local key = tostring(status)
  if status >= 400 then
    local code = body:match('"code":"([^"]+)"')
    if code then key = key .. " " .. code end
  end
  codes[key] = (codes[key] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("codes")) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do table.insert(parts, string.format('"%%s":%%d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,' ..
    '"socket_errors":%%d,"codes":{%%s}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, table.concat(parts, ",")))
end
"""


@dataclass
class Burst:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    codes: dict[str, int]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def answers(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.codes.items()))


@dataclass
class Round:
    bursts: dict[str, Burst] = field(default_factory=dict)
    truth: str = ""


def _lua_list(values: list[str]) -> str:
    return ",".join(json.dumps(v) for v in values)


def wrk(
    url: str,
    paths: list[str],
    tokens: list[str],
    method: str,
    args: argparse.Namespace,
) -> Burst:
    script = LUA % {
        "paths": _lua_list(paths),
        "tokens": _lua_list(tokens),
        "method": method,
        "threads": args.threads,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.seconds}s",
        "--timeout",
        "30s",
        "-s",
        handle.name,
        url,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    Path(handle.name).unlink()
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    data = json.loads(line.removeprefix("BENCH "))
    return Burst(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        socket_errors=data["socket_errors"],
        codes=data["codes"],
    )


async def new_campaign(http: httpx.AsyncClient, store: Store) -> str:
    template = await http.post(
        f"{store.merchant}/coupons/templates/",
        json={
            "name": "好友立减",
            "kind": "fixed",
            "amount": 500,
            "valid_days": 7,
            "claimable": False,
        },
        headers=store.auth,
    )
    assert template.status_code == 201, template.text
    campaign = await http.post(
        f"{store.merchant}/sharecoupon/campaigns",
        json={
            "title": "分享立减金",
            "template_id": template.json()["id"],
            "pack_size": PACK_SIZE,
            "one_per_campaign": False,  # one member claims once from each of many packs
        },
        headers=store.auth,
    )
    assert campaign.status_code == 201, campaign.text
    campaign_id: str = campaign.json()["id"]
    return campaign_id


async def new_packs(
    rt: Runtime, store: Store, campaign_id: str, count: int, *, empty: bool = False
) -> list[str]:
    """``count`` shared packs of ``PACK_SIZE`` (written straight to the database, each with
    its own new sharer): their share tokens."""
    async with rt.db.tenant_session(store.tenant_id) as session:
        sharers = [Member(openid=f"s-{secrets.token_hex(8)}", nickname="s") for _ in range(count)]
        session.add_all(sharers)
        await session.flush()
        now = utcnow()
        packs = [
            SharePack(
                campaign_id=campaign_id,
                sharer_id=sharer.id,
                manual_key=sharer.id,
                size=PACK_SIZE,
                claimed=PACK_SIZE if empty else 0,
                status="active",
                nonce=secrets.token_hex(16),
                expires_at=now + timedelta(hours=24),
                day=day_of(now),
                shared_at=now,
                shared_day=day_of(now),
            )
            for sharer in sharers
        ]
        session.add_all(packs)
        await session.flush()
        tokens = []
        for pack in packs:
            token = share_token(SECRET, store.tenant_id, pack)
            pack.token_hash = token_hash(token)
            tokens.append(token)
    return tokens


async def truth(rt: Runtime, store: Store) -> str:
    """Every pack: claimed = claim rows = distinct coupons ≤ size."""
    async with rt.db.tenant_session(store.tenant_id) as session:
        claims = (
            select(
                ShareClaim.pack_id,
                func.count().label("rows"),
                func.count(func.distinct(ShareClaim.coupon_id)).label("coupons"),
            )
            .group_by(ShareClaim.pack_id)
            .subquery()
        )
        rows = (
            await session.execute(
                select(SharePack.claimed, SharePack.size, claims.c.rows, claims.c.coupons).join(
                    claims, claims.c.pack_id == SharePack.id
                )
            )
        ).all()
    claimed = sum(r[0] for r in rows)
    mismatched = sum(1 for r in rows if not r[0] == r[2] == r[3])
    overfilled = sum(1 for r in rows if r[0] > r[1])
    return (
        f"{claimed} claimed in {len(rows)} packs, mismatched {mismatched}, overfilled {overfilled}"
    )


async def settle(rt: Runtime, store: Store) -> None:
    """Wait for the requests still in flight when wrk stopped (the server finishes them) to
    be done, so that they do not run into the next burst: the claims stop moving."""
    last = -1
    while True:
        async with rt.db.tenant_session(store.tenant_id) as session:
            now = await session.scalar(select(func.count()).select_from(ShareClaim))
        if now == last:
            return
        last = now or 0
        await asyncio.sleep(2)


async def _rounds(args: argparse.Namespace, rt: Runtime, url: str) -> list[Round]:
    rounds: list[Round] = []
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        for attempt in range(3):  # a busy machine starts the workers slowly
            try:
                await wait_ready(http)
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        store = await new_store(http, "sharecoupon", plugin="sharecoupon", settings={})
        await seed_buyers(rt, store, args.members)
        tokens = [token for _, token, _ in store.buyers]
        campaign_id = await new_campaign(http, store)
        page = f"{store.store}/sharecoupon/shares"
        for n in range(args.rounds):
            rnd = Round()
            spread = await new_packs(rt, store, campaign_id, args.packs)
            [raced] = await new_packs(rt, store, campaign_id, 1)
            [empty] = await new_packs(rt, store, campaign_id, 1, empty=True)
            plans = {
                "no-op": (["/healthz"], [], "GET"),
                "share page": ([f"{page}/{raced}"], [], "GET"),
                "claim, coupons left": ([f"{page}/{t}/claim" for t in spread], tokens, "POST"),
                "claim, race for one pack": ([f"{page}/{raced}/claim"], tokens, "POST"),
                "claim, empty pack": ([f"{page}/{empty}/claim"], tokens, "POST"),
            }
            order = list(BURSTS[n % len(BURSTS) :] + BURSTS[: n % len(BURSTS)])
            # The share page is read before the race empties its pack, in every order.
            if order.index("share page") > order.index("claim, race for one pack"):
                order.remove("share page")
                order.insert(order.index("claim, race for one pack"), "share page")
            print(f"round {n + 1}: {', '.join(order)}", file=sys.stderr)
            for name in order:
                paths, who, method = plans[name]
                rnd.bursts[name] = await asyncio.to_thread(wrk, url, paths, who, method, args)
                await settle(rt, store)
            rnd.truth = await truth(rt, store)
            rounds.append(rnd)
    return rounds


def _wrk_version() -> str:
    return subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout


def render(args: argparse.Namespace, rounds: list[Round], header: str) -> str:
    lines = [header, ""]
    lines.append("| round | burst | requests | req/s | p50 ms | p99 ms | answers |")
    lines.append("| ---: | --- | ---: | ---: | ---: | ---: | --- |")
    for n, rnd in enumerate(rounds, 1):
        for name in BURSTS:
            b = rnd.bursts[name]
            errors = f", socket errors: {b.socket_errors}" if b.socket_errors else ""
            lines.append(
                f"| {n} | {name} | {b.requests} | {b.throughput:.0f} | {b.p50_ms:.1f} "
                f"| {b.p99_ms:.1f} | {b.answers}{errors} |"
            )
        lines.append(f"| {n} | database afterwards | | | | | {rnd.truth} |")
    for anchor_name in ("no-op", "share page"):
        lines += ["", f"Ratios to the {anchor_name} in the same round (throughput; p99):", ""]
        names = [name for name in BURSTS if name not in ("no-op", anchor_name)]
        lines.append("| round | " + " | ".join(names) + " |")
        lines.append("| ---: |" + " ---: |" * len(names))
        ratios: list[list[float]] = []
        for n, rnd in enumerate(rounds, 1):
            anchor = rnd.bursts[anchor_name]
            row = [rnd.bursts[name].throughput / anchor.throughput for name in names]
            p99 = [rnd.bursts[name].p99_ms / anchor.p99_ms for name in names]
            ratios.append(row)
            cells = " | ".join(f"{r:.4f}; {p:.1f}" for r, p in zip(row, p99, strict=True))
            lines.append(f"| {n} | {cells} |")
        if len(ratios) > 1:
            medians = [statistics.median(col) for col in zip(*ratios, strict=True)]
            lines.append("| median | " + " | ".join(f"{m:.4f}" for m in medians) + " |")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> str:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    settings = await settings_for(args.pg_super_url, args.redis_url, _free_port(), args.workers)
    with tempfile.NamedTemporaryFile(
        prefix="sharecoupon-bench-", suffix=".log", delete=False
    ) as log:
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
    version = (await asyncio.to_thread(_wrk_version)).split()
    header = (
        f"wrk {version[1] if len(version) > 1 else '?'}: **{args.threads}** thread, "
        f"**{args.connections}** keep-alive connections, **{args.seconds} s** per burst; "
        f"members: **{args.members}**, packs of {PACK_SIZE} (spread over **{args.packs}**); "
        f"server: `storeplug serve` with {args.workers} uvicorn workers + `storeplug worker`, "
        f"PostgreSQL + Redis ({args.redis_url}), Python {platform.python_version()}, "
        f"nproc {_nproc()}; load average (1/5/15 min) before {load_before}, after {_load()}; "
        f"wall time {time.perf_counter() - started:.1f} s"
    )
    return render(args, rounds, header)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--packs", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg-super-url", default=DEFAULT_PG_SUPER_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
