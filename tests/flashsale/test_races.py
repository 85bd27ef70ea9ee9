"""The acceptance races over real concurrent HTTP: many buyers, few units, a limit of one per
member. On PostgreSQL with the Redis gate and in the database-only mode (SQLite runs the
database-only mode too, with fewer requests), and with the activity's Redis keys flushed
again and again in the middle of the race. The buys are sent all at once from a process of
their own (tests/flashsale/burst.py), one connection each."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from core.runtime import Runtime
from plugins.flashsale import preheat
from storeplug.testing import LiveServer, Merchant
from tests.flashsale.support import (
    Answer,
    Buyer,
    burst,
    buy,
    buyers,
    flash_store,
    flush_keys,
    redis_view,
    sale,
    truth,
)

UNITS = 50
MEMBERS = 300
REQUESTS = 500
# SQLite serialises every writer: the same race, scaled down to keep the run short.
SQLITE = {"units": 20, "members": 60, "requests": 100}
REFUSED = {"flashsale.sold_out", "flashsale.limit_exceeded"}


def _sizes(backend: str) -> tuple[int, int, int]:
    if backend == "sqlite":
        return SQLITE["units"], SQLITE["members"], SQLITE["requests"]
    return UNITS, MEMBERS, REQUESTS


async def _race(
    server: LiveServer,
    merchant: Merchant,
    people: list[Buyer],
    activity_id: str,
    sku_id: str,
    requests: int,
) -> list[Answer]:
    # Every member once, then the first ones again: members racing themselves too.
    plan = [people[i % len(people)] for i in range(requests)]
    return await burst(server.url, merchant, activity_id, sku_id, plan)


async def _check_outcome(
    rt: Runtime,
    merchant: Merchant,
    responses: list[Answer],
    activity_id: str,
    sku_id: str,
    units: int,
    exact: bool,
) -> int:
    statuses = Counter(r.status_code for r in responses)
    won = [r.json() for r in responses if r.status_code == 201]
    refused = {r.json()["code"] for r in responses if r.status_code != 201}
    assert set(statuses) <= {201, 409}, [r.text for r in responses if r.status_code >= 500][:3]
    assert refused <= REFUSED, refused
    winners = Counter(w["order_id"] for w in won)
    assert len(winners) == len(won)
    state = await truth(rt, merchant, activity_id, sku_id, limit=1)
    assert state.over_limit == 0
    assert state.sold == state.held_orders == state.pending_orders == len(won)
    if exact:
        assert len(won) == units, statuses
    else:
        assert len(won) <= units, statuses
    members = Counter(w["order_id"] for w in won)
    assert all(count == 1 for count in members.values())
    return len(won)


async def _assert_agree(rt: Runtime, merchant: Merchant, activity_id: str) -> None:
    tenant = await rt.tenants.resolve(merchant.slug)
    found = await preheat.compare(rt, tenant, activity_id)
    assert not found.get("missing"), found
    assert found["stock"] == {} and found["members"] == {}, found


async def test_redis_gate_sells_exactly_the_units(
    client: httpx.AsyncClient, server: LiveServer, rt: Runtime, backend: str
) -> None:
    if rt.redis is None:
        pytest.skip("the Redis gate needs Redis; the SQLite run covers the database-only mode")
    merchant = await flash_store(client)
    sku, activity = await sale(client, rt, merchant, units=UNITS)
    people = await buyers(rt, merchant, MEMBERS)

    responses = await _race(server, merchant, people, activity["id"], sku.id, REQUESTS)

    await _check_outcome(rt, merchant, responses, activity["id"], sku.id, UNITS, exact=True)
    await _assert_agree(rt, merchant, activity["id"])
    left, counts = await redis_view(rt, merchant, activity["id"]) or ({}, {})
    assert left == {sku.id: 0}
    assert sum(counts.values()) == UNITS and max(counts.values()) == 1


async def test_database_only_mode_sells_exactly_the_units(
    client: httpx.AsyncClient, server: LiveServer, rt: Runtime, backend: str
) -> None:
    units, members, requests = _sizes(backend)
    merchant = await flash_store(client, use_redis=False)
    sku, activity = await sale(client, rt, merchant, units=units)
    people = await buyers(rt, merchant, members)

    responses = await _race(server, merchant, people, activity["id"], sku.id, requests)

    await _check_outcome(rt, merchant, responses, activity["id"], sku.id, units, exact=True)
    if rt.redis is not None:
        assert await redis_view(rt, merchant, activity["id"]) is None  # Redis never involved


async def test_flushing_the_keys_mid_race_never_oversells(
    client: httpx.AsyncClient, server: LiveServer, rt: Runtime, backend: str
) -> None:
    if rt.redis is None:
        pytest.skip("flushing Redis keys needs Redis; SQLite runs the database-only mode")
    merchant = await flash_store(client)
    sku, activity = await sale(client, rt, merchant, units=UNITS)
    people = await buyers(rt, merchant, MEMBERS)
    done = asyncio.Event()
    flushes = 0

    async def flusher() -> None:
        nonlocal flushes
        while not done.is_set():
            await asyncio.sleep(0.05)
            await flush_keys(rt, merchant, activity["id"])
            flushes += 1

    task = asyncio.create_task(flusher())
    try:
        responses = await _race(server, merchant, people, activity["id"], sku.id, REQUESTS)
    finally:
        done.set()
        await task
    assert flushes >= 2

    await _check_outcome(rt, merchant, responses, activity["id"], sku.id, UNITS, exact=False)
    # The next request rebuilds the keys from the database's truth.
    latecomer = (await buyers(rt, merchant, 1))[0]
    answer = await buy(client, merchant, latecomer, activity["id"], sku.id)
    assert answer.status_code in (201, 409), answer.text
    await _assert_agree(rt, merchant, activity["id"])
    state = await truth(rt, merchant, activity["id"], sku.id, limit=1)
    assert state.sold <= UNITS
