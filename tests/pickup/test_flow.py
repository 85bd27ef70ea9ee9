"""Pickup end to end over HTTP: the nearest point, the pickup discount, paying, the code, and
verification by the point's own staff, once; the refusals around it."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from core.runtime import Runtime
from plugins.pickup.models import PickupVerification
from storeplug.testing import Merchant, eventually, make_member, new_staff, problem
from tests.commerce.orders_support import make_sku, order_row
from tests.commerce.payments_support import use_sandbox
from tests.pickup.support import (
    HERE,
    first_slot,
    make_point,
    pickup_body,
    pickup_row,
    pickup_store,
    placed_and_paid,
    ticket,
    verify,
)


async def test_pickup_at_the_nearest_point_verified_once(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    merchant = await pickup_store(
        client, discount_kind="amount", discount_value=300, discount_label="自提立减"
    )
    await use_sandbox(client, merchant)
    clerk_near, clerk_far = await new_staff(client, merchant), await new_staff(client, merchant)
    far = await make_point(client, merchant, "北站", 22.64, 113.95, staff_ids=[clerk_far.id])
    near = await make_point(client, merchant, "科技园店", 22.54, 113.961, staff_ids=[clerk_near.id])
    await make_point(client, merchant, "停业店", 22.5401, 113.9501, status="inactive")
    sku = await make_sku(rt, merchant, price=1990)
    buyer = await make_member(rt, merchant)

    listed = await client.get(
        f"{merchant.store}/pickup/points", params={"lat": HERE[0], "lng": HERE[1]}
    )
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [p["id"] for p in items] == [near["id"], far["id"]]  # the inactive one is hidden
    assert 1000 < items[0]["distance_m"] < 1300 and 10_500 < items[1]["distance_m"] < 11_500

    slot = await first_slot(client, merchant, items[0]["id"])
    order_id = await placed_and_paid(client, merchant, buyer, pickup_body(sku.id, near["id"], slot))
    order = await order_row(rt, merchant, order_id)
    assert (order.payable, order.shipping_fee, order.status) == (1690, 0, "awaiting_pickup")
    assert [(a["source"], a["label"], a["amount"]) for a in order.adjustments] == [
        ("pickup", "自提立减", -300)
    ]
    assert order.fulfillment_data["point_id"] == near["id"]

    shown = await ticket(client, merchant, buyer, order_id)
    code = shown["code"]
    assert shown["status"] == "open" and len(code) == 8 and code.isdigit()
    assert shown["qr"].startswith(f"SPK1.{order_id}.{code}.")
    pickup = await eventually(
        lambda: _notified(rt, merchant, order_id), what="the pickup-ready notice"
    )
    assert pickup

    # Staff of another point, at this point: refused. The code at another point: refused.
    problem(
        await verify(client, merchant, clerk_far, near["id"], code=code),
        403,
        "pickup.not_point_staff",
    )
    problem(
        await verify(client, merchant, clerk_far, far["id"], code=code), 404, "pickup.code_invalid"
    )
    # The owner is staff of no point.
    owner = await client.post(
        f"{merchant.merchant}/pickup/points/{near['id']}/verify",
        json={"code": code},
        headers=merchant.auth,
    )
    problem(owner, 403, "pickup.not_point_staff")

    done = await verify(client, merchant, clerk_near, near["id"], qr=shown["qr"])
    assert done.status_code == 200, done.text
    assert done.json()["method"] == "qr" and done.json()["staff_id"] == clerk_near.id
    assert (await order_row(rt, merchant, order_id)).status == "completed"
    async with rt.db.tenant_session(merchant.id) as session:
        log = (await session.scalars(select(PickupVerification))).all()
    assert [(v.order_id, v.point_id, v.staff_id) for v in log] == [
        (order_id, near["id"], clerk_near.id)
    ]

    # Once only: the same code, and the same QR, again.
    problem(
        await verify(client, merchant, clerk_near, near["id"], code=code),
        404,
        "pickup.code_invalid",
    )
    problem(
        await verify(client, merchant, clerk_near, near["id"], qr=shown["qr"]),
        404,
        "pickup.code_invalid",
    )
    assert (await ticket(client, merchant, buyer, order_id))["code"] is None


async def _notified(rt: Runtime, merchant: Merchant, order_id: str) -> bool:
    row = await pickup_row(rt, merchant, order_id)
    return row.ready_notified_at is not None


async def test_percent_discount_and_no_shipping_fee(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await pickup_store(client, discount_kind="percent", discount_value=10)
    point = await make_point(client, merchant, "店", *HERE)
    sku = await make_sku(rt, merchant, price=1999)
    buyer = await make_member(rt, merchant)
    slot = await first_slot(client, merchant, point["id"])
    placed = await client.post(
        f"{merchant.store}/orders",
        json=pickup_body(sku.id, point["id"], slot, quantity=2),
        headers={**buyer.auth, "Idempotency-Key": "k-percent"},
    )
    assert placed.status_code == 201, placed.text
    body = placed.json()
    # 3998 fen, 10 % off rounded down to the fen: 399.
    assert (body["payable"], body["shipping_fee"]) == (3998 - 399, 0)


async def test_ids_of_another_tenant_are_not_found(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop_a, shop_b = await pickup_store(client), await pickup_store(client)
    point_b = await make_point(client, shop_b, "B店", *HERE)
    clerk_a = await new_staff(client, shop_a)
    for response in (
        await client.get(f"{shop_a.merchant}/pickup/points/{point_b['id']}", headers=shop_a.auth),
        await client.put(
            f"{shop_a.merchant}/pickup/points/{point_b['id']}",
            json={
                "name": "x",
                "address": "y",
                "latitude": 1,
                "longitude": 1,
                "hours": [[] for _ in range(7)],
            },
            headers=shop_a.auth,
        ),
        await verify(client, shop_a, clerk_a, point_b["id"], code="12345678"),
        await client.get(f"{shop_a.store}/pickup/points/{point_b['id']}/slots"),
    ):
        problem(response, 404, "pickup.point_not_found")
    # A point listing another tenant's staff member is refused.
    clerk_b = await new_staff(client, shop_b)
    made = await client.post(
        f"{shop_a.merchant}/pickup/points/",
        json={
            "name": "x",
            "address": "y",
            "latitude": 1,
            "longitude": 1,
            "hours": [[] for _ in range(7)],
            "staff_ids": [clerk_b.id],
        },
        headers=shop_a.auth,
    )
    problem(made, 422, "pickup.unknown_staff")
    # And an order placed at another tenant's point.
    sku = await make_sku(rt, shop_a)
    buyer = await make_member(rt, shop_a)
    slot = await first_slot(client, shop_b, point_b["id"])
    placed = await client.post(
        f"{shop_a.store}/orders",
        json=pickup_body(sku.id, point_b["id"], slot),
        headers={**buyer.auth, "Idempotency-Key": "k-foreign"},
    )
    problem(placed, 422, "pickup.point_not_found")
