"""Benchmark: a share link gone viral. Many members join one group-buy team at once and the
winners pay at once, against a real multi-worker server on PostgreSQL + Redis.

For each round a leader opens a team of ``--size`` and pays; then every one of
``--buyers`` members sends one join at the same moment over ``--connections`` connections
(only ``size - 1`` can get a place: one conditional UPDATE per join decides), and the
winners all pay at once through the sandbox provider (the last payment completes the team
and releases every order's fulfillment hold in its transaction). The same number of
``GET /healthz`` (the no-op) go over the same connections. For each burst it reports
throughput, p50/p99 latency and the answers by code; afterwards, what the database holds:
places taken, paid orders, the team's state, and "overfilled" (places or paid orders beyond
the team's size, or orders still held after the success; must be 0).

Usage::

    uv run python -m bench.groupbuy                   # 1,000 joiners, 300 connections, size 100
    uv run python -m bench.groupbuy --rounds 1 --buyers 300

It runs ``storeplug serve`` (``--workers`` processes) and ``storeplug worker`` as child
processes on a free port, in a fresh database ``storeplug_bench_flashsale`` (the flash sale
bench's setup; dropped at the end unless ``--keep``), and flushes its Redis database.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.flashsale import Burst, Request, _free_port, _load, _ms, _nproc, fire
from bench.flashsale_setup import (
    DEFAULT_PG_SUPER_URL,
    DEFAULT_REDIS_URL,
    Store,
    drop_database,
    new_store,
    seed_buyers,
    settings_for,
    start_processes,
    stop_processes,
    wait_ready,
)
from core.catalog.models import Product, Sku
from core.db import utcnow
from core.orders.models import Order
from core.runtime import Runtime
from plugins.groupbuy.models import GroupMember, GroupTeam
from storeplug.runtime import build_runtime

PRICE, GROUP_PRICE = 29900, 19900


@dataclass
class Round:
    bursts: dict[str, Burst] = field(default_factory=dict)
    team: str = ""  # what the database holds afterwards


def _headers(member: tuple[str, str, str], key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {member[1]}", "Idempotency-Key": key}


async def new_activity(rt: Runtime, http: httpx.AsyncClient, store: Store, size: int) -> str:
    """A product with plenty of stock in a running group-buy for teams of ``size``."""
    async with rt.db.tenant_session(store.tenant_id) as session:
        product = Product(title="电饭煲", status="on", images=[], min_price=PRICE)
        session.add(product)
        await session.flush()
        sku = Sku(product_id=product.id, specs={}, price=PRICE, stock=1_000_000)
        session.add(sku)
        await session.flush()
        product_id, sku_id = product.id, sku.id
    start = utcnow() - timedelta(seconds=1)
    body = {
        "product_id": product_id,
        "title": "百人团",
        "team_size": size,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=1)).isoformat(),
        "items": [{"sku_id": sku_id, "group_price": GROUP_PRICE}],
    }
    created = await http.post(
        f"{store.merchant}/groupbuy/activities", json=body, headers=store.auth
    )
    assert created.status_code == 201, created.text
    activity_id: str = created.json()["id"]
    return activity_id


def _buy_body(member: tuple[str, str, str], sku_id: str) -> dict[str, Any]:
    return {
        "sku_id": sku_id,
        "fulfillment": "express",
        "fulfillment_data": {"address_id": member[2]},
    }


async def open_and_pay(
    http: httpx.AsyncClient, store: Store, activity_id: str, leader: tuple[str, str, str], tag: str
) -> str:
    """The leader's team, forming: its id."""
    activity = (await http.get(f"{store.store}/groupbuy/activities/{activity_id}")).json()
    sku_id = activity["items"][0]["sku_id"]
    opened = await http.post(
        f"{store.store}/groupbuy/activities/{activity_id}/open",
        json=_buy_body(leader, sku_id),
        headers=_headers(leader, f"{tag}-open"),
    )
    assert opened.status_code == 201, opened.text
    paid = await http.post(
        f"{store.store}/orders/{opened.json()['order_id']}/pay",
        json={},
        headers=_headers(leader, f"{tag}-pay"),
    )
    assert paid.status_code == 201, paid.text
    team_id: str = opened.json()["team_id"]
    return team_id


def joins(
    store: Store, team_id: str, sku_id: str, members: list[tuple[str, str, str]], tag: str
) -> list[Request]:
    path = f"{store.store}/groupbuy/teams/{team_id}/join"

    def request(member: tuple[str, str, str], key: str) -> Request:
        body, headers = _buy_body(member, sku_id), _headers(member, key)
        return lambda http: http.post(path, json=body, headers=headers)

    return [request(m, f"{tag}-join-{i}") for i, m in enumerate(members)]


async def pays(rt: Runtime, store: Store, team_id: str, tag: str) -> list[Request]:
    """One pay request per unpaid place of the team, by its member."""
    async with rt.db.tenant_session(store.tenant_id) as session:
        rows = (
            await session.execute(
                select(GroupMember.member_id, GroupMember.order_id).where(
                    GroupMember.team_id == team_id, GroupMember.status == "held"
                )
            )
        ).all()
    tokens = {member: token for member, token, _ in store.buyers}

    def request(member_id: str, order_id: str) -> Request:
        headers = {
            "Authorization": f"Bearer {tokens[member_id]}",
            "Idempotency-Key": f"{tag}-{order_id}",
        }
        return lambda http: http.post(
            f"{store.store}/orders/{order_id}/pay", json={}, headers=headers
        )

    return [request(member_id, order_id) for member_id, order_id in rows]


async def check(rt: Runtime, store: Store, team_id: str, size: int) -> tuple[str, int]:
    """The team as the database holds it, and how far it is overfilled (must be 0)."""
    async with rt.db.tenant_session(store.tenant_id) as session:
        team = await session.get(GroupTeam, (store.tenant_id, team_id))
        places = await session.scalar(
            select(func.count()).select_from(GroupMember).where(GroupMember.team_id == team_id)
        )
        order_ids = select(GroupMember.order_id).where(GroupMember.team_id == team_id)
        paid = await session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.id.in_(order_ids), Order.status == "paid")
        )
        held = await session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.id.in_(order_ids), Order.fulfillment_hold != "")
        )
    assert team is not None
    over = max((places or 0) - size, (paid or 0) - size, team.seats - size, 0) + (held or 0)
    return f"{team.status}, {team.paid} paid, {places} places, {held} held", over


def render(args: argparse.Namespace, rounds: list[Round], header: str) -> str:
    lines = [
        header,
        "",
        "| round | burst | requests | req/s | p50 ms | p99 ms | answers |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for n, rnd in enumerate(rounds, 1):
        for name, burst in rnd.bursts.items():
            lines.append(
                f"| {n} | {name} | {len(burst.samples)} | {burst.throughput:,.0f} | "
                f"{_ms(burst.quantile(0.5))} | {_ms(burst.quantile(0.99))} | {burst.answers} |"
            )
        lines.append(f"| {n} | team afterwards | | | | | {rnd.team} |")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> str:
    settings = await settings_for(
        args.pg_super_url, args.redis_url, _free_port(), args.workers, sandbox=True
    )
    with tempfile.NamedTemporaryFile(prefix="groupbuy-bench-", suffix=".log", delete=False) as log:
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
        f"joiners: **{args.buyers}** per team of **{args.size}**, connections: "
        f"**{args.connections}**, server: `storeplug serve` with {args.workers} uvicorn workers "
        f"+ `storeplug worker`, PostgreSQL + Redis ({args.redis_url}), Python "
        f"{platform.python_version()}, nproc {_nproc()}; load average (1/5/15 min) before "
        f"{load_before}, after {_load()}; wall time {time.perf_counter() - started:.1f} s"
    )
    return render(args, rounds, header)


async def _rounds(args: argparse.Namespace, rt: Runtime, url: str) -> list[Round]:
    rounds: list[Round] = []
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        await wait_ready(http)
        store = await new_store(http, "groupbuy", plugin="groupbuy", settings={})
        sandbox = {"config": {}, "active": True}
        activated = await http.put(
            f"{store.merchant}/payments/accounts/sandbox", json=sandbox, headers=store.auth
        )
        assert activated.is_success, activated.text
        await seed_buyers(rt, store, args.buyers + args.rounds)
        activity_id = await new_activity(rt, http, store, args.size)
        sku_id = (await http.get(f"{store.store}/groupbuy/activities/{activity_id}")).json()[
            "items"
        ][0]["sku_id"]
        leaders, joiners = store.buyers[: args.rounds], store.buyers[args.rounds :]
        noop: Request = lambda h: h.get("/healthz")  # noqa: E731
        for n in range(args.rounds):
            tag = f"r{n}"
            print(f"round {n + 1}", file=sys.stderr)
            rnd = Round()
            rnd.bursts["no-op"] = await fire(url, [noop] * args.buyers, args.connections)
            team_id = await open_and_pay(http, store, activity_id, leaders[n], tag)
            rnd.bursts["join"] = await fire(
                url, joins(store, team_id, sku_id, joiners, tag), args.connections
            )
            rnd.bursts["pay"] = await fire(
                url, await pays(rt, store, team_id, tag), args.connections
            )
            state, over = await check(rt, store, team_id, args.size)
            rnd.team = f"{state}; overfilled {over}"
            rounds.append(rnd)
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg-super-url", default=DEFAULT_PG_SUPER_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
