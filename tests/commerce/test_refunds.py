"""Refunds and after-sales over HTTP with the sandbox provider: a member's request approved,
rejected or withdrawn, partial and full refunds with their amount math, the after-sales
window, and over-refunds refused. Runs on SQLite and on PostgreSQL + Redis (the ``worker``
fixture runs the submit job there)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from core.db import utcnow
from core.orders.models import Order
from core.runtime import Runtime
from storeplug.testing import enable, problem
from tests.commerce.orders_support import (
    Shop,
    direct,
    make_address,
    make_sku,
    movements,
    place,
    set_store,
    stock_of,
)
from tests.commerce.refunds_support import (
    ask_refund,
    hook_events,
    line_of,
    merchant_refund,
    order_and_lines,
    paid_order,
    refund_directly,
    settled,
)

REASON = {"reason": "不想要了"}


async def approve(
    client: httpx.AsyncClient, shop: Shop, refund_id: str, body: Any = None
) -> httpx.Response:
    merchant = shop.merchant
    return await client.post(
        f"{merchant.merchant}/refunds/{refund_id}/approve", json=body, headers=merchant.auth
    )


async def my_coupon_status(client: httpx.AsyncClient, shop: Shop) -> str:
    response = await client.get(f"{shop.merchant.store}/me/coupons", headers=shop.buyer.auth)
    assert response.status_code == 200, response.text
    (coupon,) = response.json()["items"]
    status: str = coupon["status"]
    return status


async def test_a_requested_whole_refund_approved_refunds_the_order(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, worker: None
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    assert (await enable(client, merchant, "echo")).status_code == 200
    template = await client.post(
        f"{merchant.merchant}/coupons/templates",
        json={"name": "立减5元", "kind": "fixed", "amount": 500, "valid_days": 7},
        headers=merchant.auth,
    )
    assert template.status_code == 201, template.text
    claim = await client.post(
        f"{merchant.store}/coupons/{template.json()['id']}/claim", headers=buyer.auth
    )
    assert claim.status_code == 201, claim.text
    sku = await make_sku(rt, merchant, price=2000, stock=10)
    order = await paid_order(client, rt, shop, [(sku, 2)])
    assert order["paid_amount"] == 4000 - 100 - 500  # echo's 1 yuan off, the coupon
    assert await stock_of(rt, merchant, sku.id) == 8
    assert await my_coupon_status(client, shop) == "used"

    asked = await ask_refund(
        client,
        merchant,
        buyer,
        order["id"],
        {**REASON, "photos": ["https://img.example/broken.png"]},
    )
    assert asked.status_code == 201, asked.text
    refund = asked.json()
    assert refund["status"] == "requested" and refund["whole_order"] is True
    assert refund["amount"] == order["paid_amount"] and refund["lines"] == []
    assert refund["photos"] == ["https://img.example/broken.png"]
    held, _ = await order_and_lines(rt, merchant, order["id"])
    assert held.refund_held == order["paid_amount"] and held.status == "paid"

    approved = await approve(client, shop, refund["id"])
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "processing" and approved.json()["restock"] is True
    done = await settled(client, rt, merchant, refund["id"], "succeeded")
    assert done["provider"] == "sandbox" and done["provider_status"] == "SUCCESS"
    assert done["decided_by"].startswith("staff:") and done["succeeded_at"]

    row, lines = await order_and_lines(rt, merchant, order["id"])
    assert row.status == "refunded" and row.refunded_amount == row.paid_amount
    assert [line.refunded_quantity for line in lines.values()] == [2]
    assert await stock_of(rt, merchant, sku.id) == 10
    assert await movements(rt, merchant, sku.id, "refund_restock") == 1
    assert await my_coupon_status(client, shop) == "available"
    assert hook_events("refund_succeeded", merchant.id) == [(refund["id"], order["id"])]
    assert hook_events("order_refunded", merchant.id) == [order["id"]]

    mine = await client.get(f"{merchant.store}/refunds", headers=buyer.auth)
    assert mine.status_code == 200, mine.text
    assert [r["id"] for r in mine.json()["items"]] == [refund["id"]]
    one = await client.get(f"{merchant.store}/refunds/{refund['id']}", headers=buyer.auth)
    assert one.status_code == 200 and one.json()["status"] == "succeeded"
    assert "decided_by" not in one.json()  # staff ids stay on the merchant side
    again = await approve(client, shop, refund["id"])
    problem(again, 409, "refund.state_changed")


async def test_partial_line_refunds_follow_the_amount_rules(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, worker: None
) -> None:
    """Two lines (2 x 30.00 and 1 x 10.00), echo's order-level 1.00 off and 10.00 shipping:
    the 1.00 is spread 0.86 / 0.14 over the lines (largest remainder), each unit of the first
    line is worth 29.57, and the refund that takes the last units brings the shipping back."""
    merchant = shop.merchant
    assert (await enable(client, merchant, "echo")).status_code == 200
    await set_store(rt, merchant, shipping_fee=1000)
    shirt = await make_sku(rt, merchant, price=3000, stock=10)
    socks = await make_sku(rt, merchant, price=1000, stock=10)
    order = await paid_order(client, rt, shop, [(shirt, 2), (socks, 1)])
    assert order["paid_amount"] == 7000 - 100 + 1000
    shirt_line, socks_line = line_of(order, shirt), line_of(order, socks)

    too_much = await refund_directly(
        client,
        merchant,
        order["id"],
        {**REASON, "lines": [{"line_id": shirt_line, "quantity": 1}], "amount": 2958},
    )
    body = problem(too_much, 422, "refund.amount_too_high")
    assert body["errors"][0]["field"] == "amount"
    first = await refund_directly(
        client, merchant, order["id"], {**REASON, "lines": [{"line_id": shirt_line, "quantity": 1}]}
    )
    assert first.status_code == 201, first.text
    assert first.json()["amount"] == 2957 and first.json()["status"] == "processing"
    assert first.json()["lines"] == [{"line_id": shirt_line, "quantity": 1, "amount": 2957}]
    await settled(client, rt, merchant, first.json()["id"], "succeeded")
    row, lines = await order_and_lines(rt, merchant, order["id"])
    assert row.status == "paid" and row.refunded_amount == 2957 == row.refund_held
    assert lines[shirt_line].refunded_quantity == 1 and lines[socks_line].refunded_quantity == 0
    assert await stock_of(rt, merchant, shirt.id) == 9  # unshipped: back on the shelf
    assert hook_events("order_refunded", merchant.id) == []

    rest = await refund_directly(
        client,
        merchant,
        order["id"],
        {
            **REASON,
            "lines": [
                {"line_id": socks_line, "quantity": 1},
                {"line_id": shirt_line, "quantity": 1},
            ],
        },
    )
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount"] == 2957 + 986 + 1000  # the last units take the shipping
    await settled(client, rt, merchant, rest.json()["id"], "succeeded")
    row, lines = await order_and_lines(rt, merchant, order["id"])
    assert row.status == "refunded" and row.refunded_amount == row.paid_amount == 7900
    assert lines[shirt_line].refunded_quantity == 2 and lines[socks_line].refunded_quantity == 1
    assert await stock_of(rt, merchant, shirt.id) == 10
    assert await stock_of(rt, merchant, socks.id) == 10
    assert len(hook_events("refund_succeeded", merchant.id)) == 2
    assert hook_events("order_refunded", merchant.id) == [order["id"]]
    none_left = await refund_directly(client, merchant, order["id"], REASON)
    problem(none_left, 409, "refund.not_allowed")


async def test_a_shipped_order_keeps_its_shipping_and_stock(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, worker: None
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    await set_store(rt, merchant, shipping_fee=800)
    sku = await make_sku(rt, merchant, price=1500, stock=5)
    order = await paid_order(client, rt, shop, [(sku, 2)])
    shipped = await client.post(
        f"{merchant.merchant}/orders/{order['id']}/ship",
        json={"carrier": "SF", "tracking_no": "SF123"},
        headers=merchant.auth,
    )
    assert shipped.status_code == 200, shipped.text
    line = order["lines"][0]["id"]
    asked = await ask_refund(
        client,
        merchant,
        buyer,
        order["id"],
        {**REASON, "lines": [{"line_id": line, "quantity": 2}], "amount": 2000},
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["lines"] == [{"line_id": line, "quantity": 2, "amount": 3000}]
    approved = await approve(client, shop, asked.json()["id"], {"restock": False})
    assert approved.status_code == 200 and approved.json()["restock"] is False
    await settled(client, rt, merchant, asked.json()["id"], "succeeded")
    row, _ = await order_and_lines(rt, merchant, order["id"])
    # Less than the goods' worth, no shipping: the order stays shipped with money left.
    assert row.status == "shipped" and row.refunded_amount == 2000
    assert await stock_of(rt, merchant, sku.id) == 3
    units_gone = await refund_directly(
        client, merchant, order["id"], {**REASON, "lines": [{"line_id": line, "quantity": 1}]}
    )
    problem(units_gone, 409, "refund.exceeds_quantity")
    rest = await refund_directly(client, merchant, order["id"], REASON)  # whole: what is left
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount"] == 3000 + 800 - 2000
    await settled(client, rt, merchant, rest.json()["id"], "succeeded")
    row, _ = await order_and_lines(rt, merchant, order["id"])
    assert row.status == "refunded" and row.refunded_amount == 3800
    assert await stock_of(rt, merchant, sku.id) == 3  # shipped goods are not restocked


async def test_reject_and_withdraw_give_the_hold_back(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, price=1200, stock=5)
    order = await paid_order(client, rt, shop, [(sku, 3)])
    line = order["lines"][0]["id"]
    one_unit = {**REASON, "lines": [{"line_id": line, "quantity": 1}]}
    asked = await ask_refund(client, merchant, buyer, order["id"], one_unit)
    assert asked.status_code == 201, asked.text
    twice = await ask_refund(client, merchant, buyer, order["id"], one_unit)
    problem(twice, 409, "refund.already_requested")
    row, lines = await order_and_lines(rt, merchant, order["id"])
    assert row.refund_held == 1200 and lines[line].refund_held_quantity == 1

    no_reason = await client.post(
        f"{merchant.merchant}/refunds/{asked.json()['id']}/reject", json={}, headers=merchant.auth
    )
    problem(no_reason, 400, "request.invalid")
    rejected = await client.post(
        f"{merchant.merchant}/refunds/{asked.json()['id']}/reject",
        json={"reason": "商品已使用"},
        headers=merchant.auth,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["reject_reason"] == "商品已使用"
    row, lines = await order_and_lines(rt, merchant, order["id"])
    assert row.refund_held == 0 and lines[line].refund_held_quantity == 0
    problem(await approve(client, shop, asked.json()["id"]), 409, "refund.state_changed")

    again = await ask_refund(client, merchant, buyer, order["id"], REASON)
    assert again.status_code == 201, again.text
    assert again.json()["amount"] == 3600
    withdraw_url = f"{merchant.store}/refunds/{again.json()['id']}/withdraw"
    withdrawn = await client.post(withdraw_url, headers=buyer.auth)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    problem(await client.post(withdraw_url, headers=buyer.auth), 409, "refund.state_changed")
    row, lines = await order_and_lines(rt, merchant, order["id"])
    assert row.refund_held == 0 and lines[line].refund_held_quantity == 0
    assert row.status == "paid"

    listed = await client.get(
        f"{merchant.merchant}/refunds",
        params={"order_id": order["id"], "status": "withdrawn"},
        headers=merchant.auth,
    )
    assert listed.status_code == 200, listed.text
    assert [r["id"] for r in listed.json()["items"]] == [again.json()["id"]]
    assert (await merchant_refund(client, merchant, again.json()["id"]))["status"] == "withdrawn"


async def test_the_after_sales_window(client: httpx.AsyncClient, rt: Runtime, shop: Shop) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    await set_store(rt, merchant, after_sales_days=3)
    sku = await make_sku(rt, merchant, price=900, stock=5)
    order = await paid_order(client, rt, shop, [(sku, 1)])
    shipped = await client.post(
        f"{merchant.merchant}/orders/{order['id']}/ship",
        json={"carrier": "SF", "tracking_no": "SF9"},
        headers=merchant.auth,
    )
    assert shipped.status_code == 200, shipped.text
    received = await client.post(
        f"{merchant.store}/orders/{order['id']}/confirm-receipt", headers=buyer.auth
    )
    assert received.status_code == 200, received.text

    async def completed_days_ago(days: float) -> None:
        async with rt.db.tenant_session(merchant.id) as session:
            await session.execute(
                update(Order)
                .where(Order.id == order["id"])
                .values(completed_at=utcnow() - timedelta(days=days))
            )

    await completed_days_ago(3.1)
    closed = await ask_refund(client, merchant, buyer, order["id"], REASON)
    problem(closed, 409, "refund.window_closed")
    await completed_days_ago(2.9)
    within = await ask_refund(client, merchant, buyer, order["id"], REASON)
    assert within.status_code == 201, within.text
    # The merchant is not bound by the window.
    await completed_days_ago(30)
    rejected = await client.post(
        f"{merchant.merchant}/refunds/{within.json()['id']}/reject",
        json={"reason": "与描述一致"},
        headers=merchant.auth,
    )
    assert rejected.status_code == 200, rejected.text
    direct = await refund_directly(client, merchant, order["id"], {**REASON, "amount": 100})
    assert direct.status_code == 201, direct.text


async def test_refusals_of_orders_that_cannot_be_refunded(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, price=900, stock=5)
    unpaid = await place(
        client, merchant, buyer, direct(sku, 1, await make_address(rt, merchant, buyer.id))
    )
    assert unpaid.status_code == 201, unpaid.text
    problem(
        await ask_refund(client, merchant, buyer, unpaid.json()["id"], REASON),
        409,
        "refund.not_allowed",
    )
    problem(
        await refund_directly(client, merchant, unpaid.json()["id"], REASON),
        409,
        "refund.not_allowed",
    )
    paid = await paid_order(client, rt, shop, [(sku, 1)])
    refund_first = await client.post(
        f"{merchant.merchant}/orders/{paid['id']}/cancel",
        json={"reason": "缺货"},
        headers=merchant.auth,
    )
    assert "/refunds" in problem(refund_first, 409, "order.refund_required")["detail"]
    cancel = await client.post(
        f"{merchant.merchant}/orders/{unpaid.json()['id']}/cancel",
        json={"reason": "缺货"},
        headers=merchant.auth,
    )
    assert cancel.status_code == 200, cancel.text
    problem(
        await refund_directly(client, merchant, unpaid.json()["id"], REASON),
        409,
        "refund.no_payment",
    )
