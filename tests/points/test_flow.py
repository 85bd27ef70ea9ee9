"""The points plugin end to end over HTTP: a WeChat sign-up earns the welcome bonus, a paid
order earns points and the first-order bonus, the next order redeems points, a partial
refund reverses the earned points and returns the used ones in proportion; checked to the
point."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from storeplug.testing import Shopper, make_member, problem
from storeplug.testing.fakes.wechat import FakeWeChat, connect_store, wx_login
from tests.commerce.orders_support import make_address, make_sku, place
from tests.commerce.payments_support import pay, use_sandbox
from tests.commerce.refunds_support import refund_directly, settled
from tests.points.support import history, lots_of, points_of, points_store

SETTINGS = {
    "points_per_yuan": 1,
    "register_bonus": 100,
    "first_order_bonus": 50,
    "redeem_points_per_yuan": 100,  # 1 point = 1 fen
    "max_share_percent": 50,
    "min_points": 10,
}


async def test_register_earn_redeem_refund_reverse(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    merchant = await points_store(client, **SETTINGS)
    await use_sandbox(client, merchant)
    app = await connect_store(client, merchant, fake_wechat)
    signed = await wx_login(client, merchant, app)
    member = Shopper(id=signed.id, token=signed.auth["Authorization"].removeprefix("Bearer "))
    assert (await points_of(client, merchant, member))["balance"] == 100  # welcome bonus

    address = await make_address(rt, merchant, member.id)
    tee = await make_sku(rt, merchant, price=10000, stock=5)
    first = await place(
        client,
        merchant,
        member,
        {
            "items": [{"sku_id": tee.id, "quantity": 1}],
            "fulfillment": "express",
            "fulfillment_data": {"address_id": address},
        },
    )
    assert first.status_code == 201, first.text
    paid = await pay(client, merchant, member, first.json()["id"])
    assert paid.json()["order_status"] == "paid", paid.text
    # 100 yuan paid → 100 points, plus the first-order bonus of 50.
    assert (await points_of(client, merchant, member))["balance"] == 100 + 100 + 50

    # The next order uses 200 points: 200 fen off a 6000 fen order (the cap is 3000).
    mug = await make_sku(rt, merchant, price=3000, stock=5)
    body = {
        "items": [{"sku_id": mug.id, "quantity": 2}],
        "fulfillment": "express",
        "fulfillment_data": {"address_id": address},
        "options": {"use_points": 200},
    }
    second = await place(client, merchant, member, body)
    assert second.status_code == 201, second.text
    order = second.json()
    assert order["payable"] == 5800, order
    assert any(a["source"] == "points" and a["amount"] == -200 for a in order["adjustments"])
    held = await points_of(client, merchant, member)
    assert held["balance"] == 50  # held at placing
    # The oldest lots went first: the welcome bonus, then the first order's points.
    lots = {
        (lot.ref_type, lot.ref_id): lot.remaining for lot in await lots_of(rt, merchant, member.id)
    }
    assert lots[("campaign", "register")] == 0
    assert lots[("order", first.json()["id"])] == 0
    assert lots[("campaign", "first_order")] == 50

    paid = await pay(client, merchant, member, order["id"])
    assert paid.json()["order_status"] == "paid", paid.text
    assert (await points_of(client, merchant, member))["balance"] == 50 + 58  # 58 yuan paid

    # Refund one of the two mugs: 2900 of 5800 fen, half the order.
    line_id = next(line["id"] for line in order["lines"])
    refund = await refund_directly(
        client,
        merchant,
        order["id"],
        {"reason": "cracked", "lines": [{"line_id": line_id, "quantity": 1}]},
    )
    assert refund.status_code == 201, refund.text
    done = await settled(client, rt, merchant, refund.json()["id"], "succeeded")
    assert done["amount"] == 2900
    # Reversed: 58 × 2900 / 5800 = 29 earned points; returned: 200 × 2900 / 5800 = 100 used.
    after = await points_of(client, merchant, member)
    assert after["balance"] == 108 - 29 + 100
    entries = await history(client, merchant, member)
    assert [(e["kind"], e["points"]) for e in reversed(entries)] == [
        ("earn", 100),
        ("earn", 100),
        ("earn", 50),
        ("redeem", -200),
        ("earn", 58),
        ("reverse", -29),
        ("reverse", 100),
    ]
    assert entries[0]["balance_after"] == 179

    # The rest of the order: everything earned is reversed and every used point is back.
    rest = await refund_directly(client, merchant, order["id"], {"reason": "all of it"})
    assert rest.status_code == 201, rest.text
    await settled(client, rt, merchant, rest.json()["id"], "succeeded")
    assert (await points_of(client, merchant, member))["balance"] == 50 + 200
    stats = await client.get(f"{merchant.merchant}/points/stats", headers=merchant.auth)
    assert stats.status_code == 200, stats.text
    assert stats.json() == {
        "issued": 308,
        "redeemed": 0,
        "expired": 0,
        "reversed": 58,
        "liability": 250,
        "pending": 0,
    }


async def test_cancel_returns_held_points(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await points_store(client, **SETTINGS)
    member = await make_member(rt, merchant)
    assert (
        await client.post(
            f"{merchant.merchant}/points/members/{member.id}/adjustments",
            json={"points": 500, "reason": "launch gift"},
            headers=merchant.auth,
        )
    ).status_code == 201
    sku = await make_sku(rt, merchant, price=2000)
    address = await make_address(rt, merchant, member.id)
    body = {
        "items": [{"sku_id": sku.id, "quantity": 1}],
        "fulfillment": "express",
        "fulfillment_data": {"address_id": address},
        "options": {"use_points": True},
    }
    placed = await place(client, merchant, member, body)
    assert placed.status_code == 201, placed.text
    assert placed.json()["payable"] == 1500  # all 500 points: within 50% of 2000
    assert (await points_of(client, merchant, member))["balance"] == 0
    cancel = await client.post(
        f"{merchant.store}/orders/{placed.json()['id']}/cancel", json={}, headers=member.auth
    )
    assert cancel.status_code == 200, cancel.text
    assert (await points_of(client, merchant, member))["balance"] == 500
    short = await place(client, merchant, member, {**body, "options": {"use_points": 501}})
    problem(short, 409, "points.insufficient")


async def test_points_wait_pending_until_the_order_completes(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await points_store(client, points_per_yuan=2, earn_on="completed")
    await use_sandbox(client, merchant)
    member = await make_member(rt, merchant)
    sku = await make_sku(rt, merchant, price=4550)
    address = await make_address(rt, merchant, member.id)
    body = {
        "items": [{"sku_id": sku.id, "quantity": 1}],
        "fulfillment": "express",
        "fulfillment_data": {"address_id": address},
    }
    placed = await place(client, merchant, member, body)
    order_id = placed.json()["id"]
    paid = await pay(client, merchant, member, order_id)
    assert paid.json()["order_status"] == "paid", paid.text
    # 45.50 yuan × 2 points = 91 points, pending and not spendable yet.
    overview = await points_of(client, merchant, member)
    assert (overview["balance"], overview["pending"]) == (0, 91)
    shipped = await client.post(
        f"{merchant.merchant}/orders/{order_id}/ship",
        json={"carrier": "SF", "tracking_no": "SF123"},
        headers=merchant.auth,
    )
    assert shipped.status_code == 200, shipped.text
    received = await client.post(
        f"{merchant.store}/orders/{order_id}/confirm-receipt", json={}, headers=member.auth
    )
    assert received.status_code == 200, received.text
    overview = await points_of(client, merchant, member)
    assert (overview["balance"], overview["pending"]) == (91, 0)


async def test_a_members_level_multiplies_what_they_earn(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    # A level reached with the first fen paid, earning 150%; the level is counted before the
    # paid order's points (the core records the spend, then order_paid fires).
    probe = await points_store(client)
    await use_sandbox(client, probe)
    level = await client.post(
        f"{probe.merchant}/member-levels/",
        json={"name": "Gold", "threshold": 1},
        headers=probe.auth,
    )
    assert level.status_code == 201, level.text
    saved = await client.put(
        f"{probe.merchant}/plugins/points/settings",
        json={"settings": {"points_per_yuan": 2, "level_multipliers": {level.json()["id"]: 150}}},
        headers=probe.auth,
    )
    assert saved.status_code == 200, saved.text
    member = await make_member(rt, probe)
    sku = await make_sku(rt, probe, price=3333)
    address = await make_address(rt, probe, member.id)
    placed = await place(
        client,
        probe,
        member,
        {
            "items": [{"sku_id": sku.id, "quantity": 1}],
            "fulfillment": "express",
            "fulfillment_data": {"address_id": address},
        },
    )
    assert placed.status_code == 201, placed.text
    paid = await pay(client, probe, member, placed.json()["id"])
    assert paid.json()["order_status"] == "paid", paid.text
    # 3333 fen × 2 points a yuan × 150% = 99.99 points, rounded down once at the end.
    assert (await points_of(client, probe, member))["balance"] == 99
