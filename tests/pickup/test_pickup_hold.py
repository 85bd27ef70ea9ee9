"""Pickup and the fulfillment hold: a held pickup order stays ``paid`` with no code after its
payment (``order_paid`` leaves it), and gets its code and ``awaiting_pickup`` when the holder
lifts the hold (``order_released``); a release by another holder changes nothing."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from core.errors import AppError
from core.orders.models import Order, OrderEvent
from core.orders.state import release_fulfillment, transition
from core.runtime import Runtime
from storeplug.testing import Merchant, Shopper, make_member
from tests.commerce.orders_support import hold_order, make_sku, order_row, place
from tests.commerce.payments_support import pay, use_sandbox
from tests.pickup.support import (
    HERE,
    first_slot,
    make_point,
    pickup_body,
    pickup_row,
    pickup_store,
    ticket,
)


async def _held_pickup_order(
    client: httpx.AsyncClient, rt: Runtime, merchant: Merchant, buyer: Shopper
) -> str:
    point = await make_point(client, merchant, "店", *HERE)
    sku = await make_sku(rt, merchant)
    slot = await first_slot(client, merchant, point["id"])
    placed = await place(client, merchant, buyer, pickup_body(sku.id, point["id"], slot))
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["id"]
    await hold_order(rt, merchant, order_id, "groupbuy")
    return order_id


async def _release(rt: Runtime, merchant: Merchant, order_id: str, holder: str) -> bool:
    tenant = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        order = await ctx.session.get(Order, (tenant.id, order_id))
        assert order is not None
        return await release_fulfillment(ctx, order, holder)


async def test_a_held_pickup_order_gets_its_code_on_release(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await pickup_store(client)
    await use_sandbox(client, merchant)
    buyer = await make_member(rt, merchant)
    order_id = await _held_pickup_order(client, rt, merchant, buyer)

    paid = await pay(client, merchant, buyer, order_id)
    assert paid.status_code == 201, paid.text
    # Paid, but held: order_paid issued no code and left the order paid.
    assert (await order_row(rt, merchant, order_id)).status == "paid"
    row = await pickup_row(rt, merchant, order_id)
    assert (row.status, row.code, row.open_code) == ("pending", None, None)
    shown = await ticket(client, merchant, buyer, order_id)
    assert (shown["status"], shown["code"], shown["qr"]) == ("pending", None, None)
    # Nor can anything else ready it for pickup while held.
    tenant = await rt.tenants.resolve(merchant.slug)
    with pytest.raises(AppError) as refused:
        async with rt.tenant_context(tenant) as ctx:
            order = await ctx.session.get(Order, (tenant.id, order_id))
            assert order is not None
            await transition(ctx, order, "awaiting_pickup", actor="job:test")
    assert refused.value.code == "order.fulfillment_held"

    # Another holder's release changes nothing.
    assert await _release(rt, merchant, order_id, "points") is False
    assert (await order_row(rt, merchant, order_id)).status == "paid"
    assert (await pickup_row(rt, merchant, order_id)).status == "pending"

    assert await _release(rt, merchant, order_id, "groupbuy") is True
    order = await order_row(rt, merchant, order_id)
    assert (order.status, order.fulfillment_hold) == ("awaiting_pickup", "")
    shown = await ticket(client, merchant, buyer, order_id)
    code = shown["code"]
    assert shown["status"] == "open" and len(code) == 8 and code.isdigit()
    async with rt.db.tenant_session(merchant.id) as session:
        events = await session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
        moves = [(e.from_status, e.to_status, e.actor, e.reason) for e in events][-2:]
    assert moves == [
        ("paid", "paid", "plugin:groupbuy", "released by groupbuy"),
        ("paid", "awaiting_pickup", "plugin:pickup", "released"),
    ]

    # Released once: a second release neither changes the code nor moves the order.
    assert await _release(rt, merchant, order_id, "groupbuy") is False
    assert (await ticket(client, merchant, buyer, order_id))["code"] == code
    assert (await order_row(rt, merchant, order_id)).status == "awaiting_pickup"


async def test_released_before_payment_the_payment_issues_the_code(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    """An unpaid order's release fires no order_released; order_paid then finds it unheld."""
    merchant = await pickup_store(client)
    await use_sandbox(client, merchant)
    buyer = await make_member(rt, merchant)
    order_id = await _held_pickup_order(client, rt, merchant, buyer)
    assert await _release(rt, merchant, order_id, "groupbuy") is True
    assert (await pickup_row(rt, merchant, order_id)).status == "pending"
    assert (await order_row(rt, merchant, order_id)).status == "pending_payment"

    paid = await pay(client, merchant, buyer, order_id)
    assert paid.status_code == 201, paid.text
    assert (await order_row(rt, merchant, order_id)).status == "awaiting_pickup"
    assert (await ticket(client, merchant, buyer, order_id))["status"] == "open"
