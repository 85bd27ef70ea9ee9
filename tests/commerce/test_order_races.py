"""Orders under real concurrency, over real HTTP, on SQLite and on PostgreSQL: no oversell,
one release per cancel, one order per Idempotency-Key, one winner between pay and cancel."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from sqlalchemy import func, select

from core.catalog.models import Sku
from core.errors import AppError
from core.orders.models import Order
from core.orders.state import mark_paid, transition
from core.runtime import Runtime
from storeplug.testing import make_member
from tests.commerce.orders_support import (
    count_orders,
    direct,
    insert_order,
    make_address,
    make_sku,
    movements,
    new_shop,
    order_row,
    place,
    stock_of,
)

BUYERS = 50
STOCK = 10
# Refusals for "sold out": the pre-check on the stock read (cart.insufficient_stock) or the
# conditional UPDATE that reserves (order.insufficient_stock), whichever sees it first.
SOLD_OUT = {"cart.insufficient_stock", "order.insufficient_stock"}


async def test_fifty_buyers_ten_units_no_oversell(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await new_shop(client, rt)
    merchant = shop.merchant
    sku = await make_sku(rt, merchant, price=990, stock=STOCK)
    buyers = [await make_member(rt, merchant, f"buyer{i}") for i in range(BUYERS)]
    addresses = [await make_address(rt, merchant, b.id) for b in buyers]

    responses = await asyncio.gather(
        *(
            place(client, merchant, buyer, direct(sku, 1, address), key=f"race-{i}")
            for i, (buyer, address) in enumerate(zip(buyers, addresses, strict=True))
        )
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: STOCK, 409: BUYERS - STOCK}, [r.text for r in responses]
    refused = {r.json()["code"] for r in responses if r.status_code == 409}
    assert refused <= SOLD_OUT, refused
    assert await stock_of(rt, merchant, sku.id) == 0
    assert await count_orders(rt, merchant) == STOCK
    assert await movements(rt, merchant, sku.id, "order_reserve") == STOCK
    winners = {r.json()["member_id"] for r in responses if r.status_code == 201}
    assert len(winners) == STOCK
    async with rt.db.tenant_session(merchant.id) as session:
        numbers = await session.scalar(select(func.count(func.distinct(Order.number))))
        stock = await session.scalar(select(Sku.stock).where(Sku.id == sku.id))
    assert numbers == STOCK
    assert stock == 0


async def test_concurrent_cancels_release_once(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await new_shop(client, rt)
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, stock=5)
    order_id = await insert_order(rt, merchant, buyer.id, sku, quantity=2)
    assert await stock_of(rt, merchant, sku.id) == 3

    url = f"{merchant.store}/orders/{order_id}/cancel"
    staff_url = f"{merchant.merchant}/orders/{order_id}/cancel"
    responses = await asyncio.gather(
        *(client.post(url, headers=buyer.auth) for _ in range(4)),
        *(client.post(staff_url, json={"reason": "缺货"}, headers=merchant.auth) for _ in range(4)),
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 7
    codes = {r.json()["code"] for r in responses if r.status_code == 409}
    assert codes <= {"order.state_changed", "order.invalid_transition"}, codes
    assert await stock_of(rt, merchant, sku.id) == 5
    assert await movements(rt, merchant, sku.id, "order_release") == 1
    assert (await order_row(rt, merchant, order_id)).status == "cancelled"


async def test_one_key_in_flight_places_one_order(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await new_shop(client, rt)
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, stock=10)
    body = direct(sku, 1, await make_address(rt, merchant, buyer.id))
    responses = await asyncio.gather(
        *(place(client, merchant, buyer, body, key="double-tap") for _ in range(8))
    )
    created = [r for r in responses if r.status_code == 201]
    assert created, [r.text for r in responses]
    assert len({r.json()["id"] for r in created}) == 1
    for r in responses:
        if r.status_code != 201:
            assert r.status_code == 409 and r.json()["code"] == "idempotency.in_flight", r.text
    assert await count_orders(rt, merchant) == 1
    assert await stock_of(rt, merchant, sku.id) == 9


async def test_payment_and_cancel_race_one_wins(client: httpx.AsyncClient, rt: Runtime) -> None:
    """A payment confirmation and the buyer's cancel at the same moment: exactly one moves
    the order; a cancel that won leaves the stock released once and the payment refused."""
    shop = await new_shop(client, rt)
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, price=700, stock=4)
    tenant = await rt.tenants.resolve(merchant.slug)
    for _ in range(3):
        order_id = await insert_order(rt, merchant, buyer.id, sku)

        async def pay(order_id: str = order_id) -> str:
            try:
                async with rt.tenant_context(tenant) as ctx:
                    await mark_paid(ctx, order_id, 700, actor="payment:race")
            except AppError as exc:
                return exc.code
            return "paid"

        async def cancel(order_id: str = order_id) -> str:
            try:
                async with rt.tenant_context(tenant) as ctx:
                    order = await ctx.session.get(Order, (tenant.id, order_id))
                    assert order is not None
                    await transition(ctx, order, "cancelled", actor="job:race")
            except AppError as exc:
                return exc.code
            return "cancelled"

        results = await asyncio.gather(pay(), cancel())
        final = (await order_row(rt, merchant, order_id)).status
        assert final in results
        assert sorted(results) in (
            sorted(["paid", "order.state_changed"]),
            sorted(["paid", "order.invalid_transition"]),
            sorted(["cancelled", "order.state_changed"]),
            sorted(["cancelled", "order.invalid_transition"]),
        ), results
    releases = await movements(rt, merchant, sku.id, "order_release")
    reserves = await movements(rt, merchant, sku.id, "order_reserve")
    assert await stock_of(rt, merchant, sku.id) == 4 - reserves + releases
