"""Members who verify at a point from the storefront (a community leader at their own point),
and a point's own booking window."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from core.db import utcnow
from core.orders.placement import CST
from core.runtime import Runtime
from plugins.pickup.models import PickupVerification
from storeplug.testing import Merchant, Shopper, make_member, problem
from tests.commerce.orders_support import make_sku, order_row
from tests.commerce.payments_support import use_sandbox
from tests.pickup.support import (
    HERE,
    first_slot,
    make_point,
    pickup_body,
    pickup_store,
    placed_and_paid,
    ticket,
)


async def member_verify(
    client: httpx.AsyncClient, merchant: Merchant, who: Shopper, point_id: str, **body: str
) -> httpx.Response:
    return await client.post(
        f"{merchant.store}/pickup/points/{point_id}/verify", json=body, headers=who.auth
    )


async def test_a_member_verifier_checks_codes_at_their_own_point_only(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await pickup_store(client)
    await use_sandbox(client, merchant)
    keeper, stranger = await make_member(rt, merchant), await make_member(rt, merchant)
    mine = await make_point(client, merchant, "团长点", *HERE, verifier_member_ids=[keeper.id])
    other = await make_point(client, merchant, "另一个点", 22.55, 113.96)
    assert mine["verifier_member_ids"] == [keeper.id]
    sku = await make_sku(rt, merchant, price=1000)
    buyer = await make_member(rt, merchant)
    slot = await first_slot(client, merchant, mine["id"])
    order_id = await placed_and_paid(client, merchant, buyer, pickup_body(sku.id, mine["id"], slot))
    code = (await ticket(client, merchant, buyer, order_id))["code"]

    problem(
        await member_verify(client, merchant, stranger, mine["id"], code=code),
        403,
        "pickup.not_point_staff",
    )
    problem(
        await member_verify(client, merchant, keeper, other["id"], code=code),
        403,
        "pickup.not_point_staff",
    )
    problem(
        await member_verify(client, merchant, buyer, mine["id"], code=code),
        403,
        "pickup.not_point_staff",
    )  # the buyer cannot verify their own code
    anonymous = await client.post(
        f"{merchant.store}/pickup/points/{mine['id']}/verify", json={"code": code}
    )
    problem(anonymous, 401, "auth.required")
    problem(
        await member_verify(client, merchant, keeper, mine["id"], code="00000000"),
        404,
        "pickup.code_invalid",
    )

    done = await member_verify(client, merchant, keeper, mine["id"], code=code)
    assert done.status_code == 200, done.text
    assert done.json()["member_id"] == keeper.id and done.json()["staff_id"] == ""
    assert (await order_row(rt, merchant, order_id)).status == "completed"
    async with rt.db.tenant_session(merchant.id) as session:
        log = (await session.scalars(select(PickupVerification))).all()
    assert [(v.order_id, v.staff_id, v.member_id) for v in log] == [(order_id, "", keeper.id)]
    problem(
        await member_verify(client, merchant, keeper, mine["id"], code=code),
        404,
        "pickup.code_invalid",
    )


async def test_a_point_books_over_its_own_window(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await pickup_store(client, booking_days=2)
    wide = await make_point(client, merchant, "远期点", *HERE, booking_days=10)
    narrow = await make_point(client, merchant, "普通点", 22.55, 113.96)
    assert wide["booking_days"] == 10 and narrow["booking_days"] is None

    async def last_day(point_id: str) -> int:
        listed = await client.get(f"{merchant.store}/pickup/points/{point_id}/slots")
        assert listed.status_code == 200, listed.text
        last = datetime.fromisoformat(listed.json()["items"][-1]["starts_at"])
        return (last.astimezone(CST).date() - utcnow().astimezone(CST).date()).days

    assert await last_day(wide["id"]) == 9
    assert await last_day(narrow["id"]) == 1

    # A slot nine days out is bookable at the wide point only.
    sku = await make_sku(rt, merchant, price=500)
    buyer = await make_member(rt, merchant)
    far = (
        (utcnow() + timedelta(days=9))
        .astimezone(CST)
        .replace(hour=10, minute=0, second=0, microsecond=0)
    )
    slot = far.isoformat()
    placed = await client.post(
        f"{merchant.store}/orders",
        json=pickup_body(sku.id, wide["id"], slot),
        headers={**buyer.auth, "Idempotency-Key": "far-wide"},
    )
    assert placed.status_code == 201, placed.text
    refused = await client.post(
        f"{merchant.store}/orders",
        json=pickup_body(sku.id, narrow["id"], slot),
        headers={**buyer.auth, "Idempotency-Key": "far-narrow"},
    )
    problem(refused, 422, "pickup.slot_unavailable")


async def test_unknown_verifier_members_are_refused(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await pickup_store(client)
    response = await client.post(
        f"{merchant.merchant}/pickup/points/",
        json={
            "name": "x",
            "address": "x",
            "latitude": HERE[0],
            "longitude": HERE[1],
            "hours": [[] for _ in range(7)],
            "verifier_member_ids": ["01HZZZZZZZZZZZZZZZZZZZZZZZ"],
        },
        headers=merchant.auth,
    )
    body = problem(response, 422, "pickup.unknown_member")
    assert body["errors"][0]["field"] == "verifier_member_ids"
