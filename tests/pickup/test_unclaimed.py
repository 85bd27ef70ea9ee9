"""Unclaimed pickup orders: a reminder after N days, and after M days a refund (or nothing,
when the merchant keeps them)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from core.db import utcnow
from core.runtime import Runtime
from plugins.pickup import jobs
from plugins.pickup.models import PickupOrder
from storeplug.testing import Merchant, eventually, make_member
from tests.commerce.orders_support import make_sku, order_row
from tests.commerce.payments_support import use_sandbox
from tests.notifications.support import notices
from tests.pickup.support import (
    HERE,
    first_slot,
    make_point,
    pickup_body,
    pickup_row,
    pickup_store,
    placed_and_paid,
)


async def _age(rt: Runtime, merchant: Merchant, order_id: str, days: int) -> None:
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(
            update(PickupOrder)
            .where(PickupOrder.order_id == order_id)
            .values(issued_at=utcnow() - timedelta(days=days))
        )


async def _paid_pickup(client: httpx.AsyncClient, rt: Runtime, merchant: Merchant) -> str:
    point = await make_point(client, merchant, "店", *HERE)
    sku = await make_sku(rt, merchant)
    buyer = await make_member(rt, merchant)
    slot = await first_slot(client, merchant, point["id"])
    return await placed_and_paid(client, merchant, buyer, pickup_body(sku.id, point["id"], slot))


async def test_reminded_then_refunded(client: httpx.AsyncClient, rt: Runtime, worker: None) -> None:
    merchant = await pickup_store(
        client, remind_after_days=2, expire_after_days=5, unclaimed_action="refund"
    )
    await use_sandbox(client, merchant)
    fresh = await _paid_pickup(client, rt, merchant)
    late = await _paid_pickup(client, rt, merchant)
    forgotten = await _paid_pickup(client, rt, merchant)
    await _age(rt, merchant, late, 3)
    await _age(rt, merchant, forgotten, 6)
    tenant = await rt.tenants.resolve(merchant.slug)
    assert tenant is not None

    assert await jobs.sweep_tenant(rt, tenant) == 2

    async def reminded() -> bool:
        return (await pickup_row(rt, merchant, late)).reminded_at is not None

    await eventually(reminded, what="the reminder")

    async def refunded() -> bool:
        return (await order_row(rt, merchant, forgotten)).status == "refunded"

    await eventually(refunded, what="the refund of the unclaimed order")
    gone = await pickup_row(rt, merchant, forgotten)
    assert (gone.status, gone.open_code) == ("cancelled", None)
    assert (await order_row(rt, merchant, late)).status == "awaiting_pickup"
    assert (await pickup_row(rt, merchant, fresh)).reminded_at is None
    # A second sweep finds the reminder sent and the refund under way: nothing to do.
    assert await jobs.sweep_tenant(rt, tenant) == 0
    [reminder] = await notices(rt, merchant, event="pickup.reminder")
    assert (reminder.ref, reminder.values["days"]) == (late, "3")
    assert reminder.values["code"] == (await pickup_row(rt, merchant, late)).code
    assert len(await notices(rt, merchant, event="pickup.ready")) == 3


async def test_kept_orders_stay_waiting(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    merchant = await pickup_store(
        client, remind_after_days=1, expire_after_days=2, unclaimed_action="keep"
    )
    await use_sandbox(client, merchant)
    order_id = await _paid_pickup(client, rt, merchant)
    await _age(rt, merchant, order_id, 30)
    assert await jobs.sweep(rt) >= 1

    async def reminded() -> bool:
        return (await pickup_row(rt, merchant, order_id)).reminded_at is not None

    await eventually(reminded, what="the reminder")
    assert (await order_row(rt, merchant, order_id)).status == "awaiting_pickup"
