"""The orders' jobs on both queues: the per-order unpaid timer (enqueued at placement), the
every-minute sweep that backs it up, and the auto-complete sweep.

On SQLite the in-process cron may run a sweep at the same moment as a test; assertions are
therefore about the outcome (the order's state, one release) rather than who moved it.
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from core.db import utcnow
from core.jobs import InProcessQueue, SaqQueue
from core.orders.jobs import (
    AUTO_COMPLETE_JOB,
    EXPIRE_JOB,
    auto_complete,
    expire_key,
    expire_unpaid,
    sweep_unpaid,
)
from core.orders.models import Order, OrderEvent
from core.runtime import Runtime
from storeplug.testing import Merchant
from tests.commerce.orders_support import (
    HookRecorder,
    direct,
    insert_order,
    make_address,
    make_sku,
    movements,
    new_shop,
    order_row,
    place,
    set_store,
    stock_of,
)


async def wait_for_status(rt: Runtime, merchant: Merchant, order_id: str, status: str) -> None:
    if isinstance(rt.jobs, InProcessQueue):
        await rt.jobs.drain()
    async with asyncio.timeout(15):
        while (await order_row(rt, merchant, order_id)).status != status:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def overdue(rt: Runtime, merchant: Merchant, order_id: str) -> None:
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(payment_deadline=utcnow() - timedelta(seconds=5))
        )


async def events_of(rt: Runtime, merchant: Merchant, order_id: str) -> list[tuple[str, str, str]]:
    async with rt.db.tenant_session(merchant.id) as session:
        rows = await session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
        return [(e.to_status, e.actor, e.reason) for e in rows]


async def test_placing_starts_the_payment_timer(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await new_shop(client, rt)
    merchant, buyer = shop.merchant, shop.buyer
    await set_store(rt, merchant, payment_window_minutes=1)
    sku = await make_sku(rt, merchant)
    started = time.time()
    response = await place(
        client, merchant, buyer, direct(sku, 1, await make_address(rt, merchant, buyer.id))
    )
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    key = expire_key(merchant.id, order_id)
    if isinstance(rt.jobs, InProcessQueue):
        assert key in rt.jobs._keys  # queued, waiting for its time
    else:
        assert isinstance(rt.jobs, SaqQueue)
        queue = rt.jobs._queue
        job = await queue.job(f"{queue.name}:{key}")
        assert job is not None and job.function == EXPIRE_JOB
        assert job.kwargs == {"tenant_id": merchant.id, "order_id": order_id}
        assert math.ceil(started + 60) <= job.scheduled <= math.ceil(time.time() + 60)


async def test_the_unpaid_timer_cancels_and_releases(
    client: httpx.AsyncClient, rt: Runtime, hooks: HookRecorder, worker: None
) -> None:
    shop = await new_shop(client, rt)
    merchant, buyer = shop.merchant, shop.buyer
    await set_store(rt, merchant, payment_window_minutes=1)
    sku = await make_sku(rt, merchant, stock=5)
    response = await place(
        client, merchant, buyer, direct(sku, 2, await make_address(rt, merchant, buyer.id))
    )
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    assert await stock_of(rt, merchant, sku.id) == 3

    # Not due yet: the job leaves the order alone.
    assert await expire_unpaid(rt, merchant.id, order_id) is False
    assert (await order_row(rt, merchant, order_id)).status == "pending_payment"

    await overdue(rt, merchant, order_id)
    await rt.jobs.enqueue(EXPIRE_JOB, tenant_id=merchant.id, order_id=order_id)
    await wait_for_status(rt, merchant, order_id, "cancelled")

    row = await order_row(rt, merchant, order_id)
    assert row.cancel_reason == "payment timeout"
    assert await stock_of(rt, merchant, sku.id) == 5
    assert hooks.of(merchant.id, order_id).count("order_cancelled") == 1
    assert hooks.reasons[order_id] == "payment timeout"
    assert (await events_of(rt, merchant, order_id))[-1][1] in (
        "job:orders.expire_unpaid",
        "job:orders.sweep_unpaid",
    )

    # Idempotent: running it again (a retry, a duplicate) changes nothing.
    assert await expire_unpaid(rt, merchant.id, order_id) is False
    assert await expire_unpaid(rt, "01ARZ3NDEKTSV4RRFFQ69G5FAV", order_id) is False
    assert await stock_of(rt, merchant, sku.id) == 5
    assert await movements(rt, merchant, sku.id, "order_release") == 1
    assert hooks.of(merchant.id, order_id).count("order_cancelled") == 1


async def test_a_paid_order_is_not_expired(
    client: httpx.AsyncClient, rt: Runtime, hooks: HookRecorder
) -> None:
    shop = await new_shop(client, rt)
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, stock=5)
    order_id = await insert_order(rt, merchant, buyer.id, sku, status="paid")
    await overdue(rt, merchant, order_id)
    assert await expire_unpaid(rt, merchant.id, order_id) is False
    await sweep_unpaid(rt)
    assert (await order_row(rt, merchant, order_id)).status == "paid"
    assert hooks.of(merchant.id, order_id) == []


async def test_the_sweep_cancels_overdue_orders_of_every_tenant(
    client: httpx.AsyncClient, rt: Runtime, hooks: HookRecorder
) -> None:
    first, second = await new_shop(client, rt), await new_shop(client, rt)
    sku1 = await make_sku(rt, first.merchant, stock=10)
    sku2 = await make_sku(rt, second.merchant, stock=10)
    late1 = await insert_order(rt, first.merchant, first.buyer.id, sku1, quantity=3)
    late2 = await insert_order(rt, second.merchant, second.buyer.id, sku2, quantity=4)
    on_time = await insert_order(rt, second.merchant, second.buyer.id, sku2)
    await overdue(rt, first.merchant, late1)
    await overdue(rt, second.merchant, late2)

    await sweep_unpaid(rt)

    assert (await order_row(rt, first.merchant, late1)).status == "cancelled"
    assert (await order_row(rt, second.merchant, late2)).status == "cancelled"
    assert (await order_row(rt, second.merchant, on_time)).status == "pending_payment"
    assert await stock_of(rt, first.merchant, sku1.id) == 10
    assert await stock_of(rt, second.merchant, sku2.id) == 9
    assert hooks.of(first.merchant.id, late1) == ["order_cancelled"]
    assert hooks.of(second.merchant.id, late2) == ["order_cancelled"]
    assert hooks.of(second.merchant.id, on_time) == []
    assert (await events_of(rt, first.merchant, late1))[-1][2] == "payment timeout"

    await sweep_unpaid(rt)  # nothing left to do
    assert await movements(rt, first.merchant, sku1.id, "order_release") == 1
    assert await movements(rt, second.merchant, sku2.id, "order_release") == 1


async def test_auto_complete_after_the_store_s_days(
    client: httpx.AsyncClient, rt: Runtime, hooks: HookRecorder, worker: None
) -> None:
    default_shop, quick_shop = await new_shop(client, rt), await new_shop(client, rt)
    await set_store(rt, quick_shop.merchant, auto_complete_days=1)
    sku = await make_sku(rt, default_shop.merchant, stock=10)
    quick_sku = await make_sku(rt, quick_shop.merchant, stock=10)
    m = default_shop.merchant
    old = await insert_order(rt, m, default_shop.buyer.id, sku, status="shipped")
    recent = await insert_order(rt, m, default_shop.buyer.id, sku, status="shipped")
    paid = await insert_order(rt, m, default_shop.buyer.id, sku, status="paid")
    quick = await insert_order(
        rt, quick_shop.merchant, quick_shop.buyer.id, quick_sku, status="shipped"
    )
    async with rt.db.tenant_session(m.id) as session:
        await session.execute(
            update(Order).where(Order.id == old).values(shipped_at=utcnow() - timedelta(days=8))
        )
        await session.execute(
            update(Order)
            .where(Order.id.in_([recent, paid]))
            .values(shipped_at=utcnow() - timedelta(days=2))
        )
    async with rt.db.tenant_session(quick_shop.merchant.id) as session:
        await session.execute(
            update(Order).where(Order.id == quick).values(shipped_at=utcnow() - timedelta(days=2))
        )

    await rt.jobs.enqueue(AUTO_COMPLETE_JOB)
    await wait_for_status(rt, m, old, "completed")
    await wait_for_status(rt, quick_shop.merchant, quick, "completed")
    assert (await order_row(rt, m, recent)).status == "shipped"  # 2 days < the default 7
    assert (await order_row(rt, m, paid)).status == "paid"
    assert (await order_row(rt, m, old)).completed_at is not None
    assert hooks.of(m.id, old) == ["order_completed"]
    assert hooks.of(quick_shop.merchant.id, quick) == ["order_completed"]
    assert (await events_of(rt, m, old))[-1][:2] == ("completed", "job:orders.auto_complete")

    await auto_complete(rt)  # idempotent: nothing left to complete here
    assert hooks.of(m.id, old) == ["order_completed"]
