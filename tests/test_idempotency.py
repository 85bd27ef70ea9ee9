"""Idempotency-Key on money-moving routes, through the echo plugin's POST /echo/charges: the
lookup key is (tenant, principal, route, key); a replay returns the stored answer, another
payload is 422, one in flight is 409, and keys expire after 24 hours."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from core.db import utcnow
from core.idempotency import HEADER, TTL, purge_expired
from core.models import IdempotencyKey
from core.runtime import Runtime
from storeplug.testing import Merchant, enable, onboard
from storeplug.testing import problem as assert_problem

ROUTE = "POST /echo/charges"


async def echo_merchant(client: httpx.AsyncClient) -> Merchant:
    merchant = await onboard(client)
    response = await enable(client, merchant, "echo")
    assert response.status_code == 200, response.text
    return merchant


async def charge(
    client: httpx.AsyncClient,
    merchant: Merchant,
    body: dict[str, Any],
    key: str | None,
    token: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or merchant.token}"}
    if key is not None:
        headers[HEADER] = key
    return await client.post(f"{merchant.merchant}/echo/charges", json=body, headers=headers)


async def total(client: httpx.AsyncClient, merchant: Merchant) -> int:
    response = await client.get(f"{merchant.merchant}/echo/charges", headers=merchant.auth)
    assert response.status_code == 200, response.text
    count: int = response.json()["total_charges"]
    return count


async def test_key_is_required(client: httpx.AsyncClient) -> None:
    merchant = await echo_merchant(client)
    assert_problem(
        await charge(client, merchant, {"amount": 100}, None), 400, "idempotency.key_required"
    )
    too_long = "k" * 256
    assert_problem(
        await charge(client, merchant, {"amount": 100}, too_long), 400, "idempotency.key_required"
    )
    assert await total(client, merchant) == 0


async def test_replay_returns_the_stored_answer(client: httpx.AsyncClient) -> None:
    merchant = await echo_merchant(client)
    body = {"amount": 100, "note": "first"}
    first = await charge(client, merchant, body, "key-1")
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    assert first.json()["total_charges"] == 1

    second = await charge(client, merchant, body, "key-1")
    assert second.status_code == 201, second.text
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert second.content == first.content
    assert await total(client, merchant) == 1

    other = await charge(client, merchant, {"amount": 999, "note": "first"}, "key-1")
    assert_problem(other, 422, "idempotency.key_reused")
    assert await total(client, merchant) == 1

    # A new key is a new charge.
    third = await charge(client, merchant, body, "key-2")
    assert third.status_code == 201, third.text
    assert third.json()["id"] != first.json()["id"]
    assert await total(client, merchant) == 2


async def test_key_belongs_to_the_principal_and_the_tenant(client: httpx.AsyncClient) -> None:
    merchant = await echo_merchant(client)
    body = {"amount": 100}
    first = await charge(client, merchant, body, "shared-key")
    assert first.status_code == 201, first.text

    created = await client.post(
        f"{merchant.merchant}/api-keys", json={"name": "erp"}, headers=merchant.auth
    )
    assert created.status_code == 201, created.text
    api_key = created.json()["key"]
    by_key = await charge(client, merchant, body, "shared-key", token=api_key)
    assert by_key.status_code == 201, by_key.text
    assert "Idempotent-Replayed" not in by_key.headers
    assert by_key.json()["id"] != first.json()["id"]
    assert await total(client, merchant) == 2
    # ...and it replays for that principal.
    replay = await charge(client, merchant, body, "shared-key", token=api_key)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == by_key.json()

    other = await echo_merchant(client)
    elsewhere = await charge(client, other, body, "shared-key")
    assert elsewhere.status_code == 201, elsewhere.text
    assert "Idempotent-Replayed" not in elsewhere.headers
    assert elsewhere.json()["total_charges"] == 1
    assert await total(client, other) == 1
    assert await total(client, merchant) == 2


async def test_concurrent_duplicates_have_one_effect(client: httpx.AsyncClient) -> None:
    merchant = await echo_merchant(client)
    body = {"amount": 500, "note": "concurrent"}
    responses = await asyncio.gather(
        *(charge(client, merchant, body, "same-key") for _ in range(10))
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    assert 201 in statuses
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "idempotency.in_flight"
    created = [r.json() for r in responses if r.status_code == 201]
    assert all(c == created[0] for c in created)
    assert created[0]["total_charges"] == 1
    assert await total(client, merchant) == 1

    # Once settled, the key replays the one answer.
    replay = await charge(client, merchant, body, "same-key")
    assert replay.status_code == 201, replay.text
    assert replay.json() == created[0]


async def test_rejected_request_does_not_burn_the_key(client: httpx.AsyncClient) -> None:
    merchant = await echo_merchant(client)
    bad = await charge(client, merchant, {"amount": -1}, "retry-key")
    assert_problem(bad, 400, "request.invalid")
    long_note = await charge(client, merchant, {"amount": 1, "note": "x" * 101}, "retry-key")
    assert_problem(long_note, 400, "request.invalid")
    assert await total(client, merchant) == 0

    good = await charge(client, merchant, {"amount": 1}, "retry-key")
    assert good.status_code == 201, good.text
    assert "Idempotent-Replayed" not in good.headers
    assert await total(client, merchant) == 1


async def _keys(rt: Runtime, tenant_id: str) -> dict[str, IdempotencyKey]:
    async with rt.db.tenant_session(tenant_id) as session:
        rows = (await session.scalars(select(IdempotencyKey))).all()
    return {row.key: row for row in rows}


async def _expire(rt: Runtime, tenant_id: str, key: str) -> None:
    past = utcnow() - TTL - timedelta(hours=1)
    async with rt.db.tenant_session(tenant_id) as session:
        result = await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == key)
            .values(created_at=past, locked_at=past, expires_at=past + TTL)
        )
        assert result.rowcount == 1  # type: ignore[attr-defined]


async def test_keys_are_kept_a_day(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await echo_merchant(client)
    assert (await charge(client, merchant, {"amount": 7}, "day-key")).status_code == 201
    row = (await _keys(rt, merchant.id))["day-key"]
    assert row.state == "done"
    assert row.route == ROUTE
    assert row.principal.startswith("staff:")
    assert row.expires_at - row.created_at >= timedelta(hours=24)


async def test_expired_key_counts_as_new(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await echo_merchant(client)
    body = {"amount": 300}
    first = await charge(client, merchant, body, "old-key")
    assert first.status_code == 201, first.text
    await _expire(rt, merchant.id, "old-key")

    again = await charge(client, merchant, body, "old-key")
    assert again.status_code == 201, again.text
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    assert await total(client, merchant) == 2
    # The fresh row replays as usual.
    replay = await charge(client, merchant, body, "old-key")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == again.json()

    # An expired key may even come back with another payload.
    await _expire(rt, merchant.id, "old-key")
    different = await charge(client, merchant, {"amount": 301}, "old-key")
    assert different.status_code == 201, different.text
    assert await total(client, merchant) == 3


async def test_purge_deletes_only_expired_keys(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await echo_merchant(client)
    other = await echo_merchant(client)
    for key in ("purge-old", "purge-new"):
        assert (await charge(client, merchant, {"amount": 1}, key)).status_code == 201
    assert (await charge(client, other, {"amount": 1}, "purge-other")).status_code == 201
    await _expire(rt, merchant.id, "purge-old")

    purged = await purge_expired(rt)
    assert purged >= 1
    assert set(await _keys(rt, merchant.id)) == {"purge-new"}
    assert set(await _keys(rt, other.id)) == {"purge-other"}
    assert await total(client, merchant) == 2  # the effects stay; only the keys go
    assert await purge_expired(rt) == 0
