"""A sale's life after the buy: unpaid orders released exactly once and sold again, paid and
refunded units, the start, end and sweep jobs (preheat, return of unsold stock, reconcile,
rebuild of lost keys), and the merchant's CRUD, publish, cancel and stats."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from core.context import Principal
from core.db import utcnow
from core.orders.jobs import expire_unpaid
from core.orders.models import Order
from core.orders.state import mark_paid
from core.payments.models import Refund
from core.plugins import call_acting
from core.runtime import Runtime
from plugins.flashsale import jobs
from plugins.flashsale.models import FlashActivity, FlashOrder
from storeplug.testing import Merchant, eventually, problem
from tests.commerce.orders_support import make_sku, order_row, stock_of
from tests.flashsale.support import (
    activity_body,
    buy,
    buyers,
    create_activity,
    flash_store,
    flush_keys,
    redis_view,
    sale,
    truth,
)


async def _overdue(rt: Runtime, merchant: Merchant, order_id: str) -> None:
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(payment_deadline=utcnow() - timedelta(seconds=1))
        )


async def _activity(rt: Runtime, merchant: Merchant, activity_id: str) -> FlashActivity:
    async with rt.db.tenant_session(merchant.id) as session:
        row = await session.get(FlashActivity, (merchant.id, activity_id))
    assert row is not None
    return row


async def test_unpaid_orders_release_exactly_once_and_sell_again(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    merchant = await flash_store(client)
    sku, activity = await sale(client, rt, merchant, units=1)
    first, second = await buyers(rt, merchant, 2)
    won = await buy(client, merchant, first, activity["id"], sku.id)
    assert won.status_code == 201, won.text
    order_id = won.json()["order_id"]
    problem(await buy(client, merchant, second, activity["id"], sku.id), 409, "flashsale.sold_out")

    await _overdue(rt, merchant, order_id)
    cancel_url = f"{merchant.store}/orders/{order_id}/cancel"
    await asyncio.gather(
        *(expire_unpaid(rt, merchant.id, order_id) for _ in range(3)),
        *(client.post(cancel_url, headers=first.auth) for _ in range(2)),
        return_exceptions=True,
    )

    assert (await order_row(rt, merchant, order_id)).status == "cancelled"
    state = await truth(rt, merchant, activity["id"], sku.id, limit=1)
    assert (state.stock, state.sold, state.held_orders) == (1, 0, 0)
    async with rt.db.tenant_session(merchant.id) as session:
        statuses = (await session.scalars(select(FlashOrder.status))).all()
    assert list(statuses) == ["released"]
    if rt.redis is not None:

        async def redis_released() -> None:
            view = await redis_view(rt, merchant, activity["id"])
            assert view is not None and view[0] == {sku.id: 1}
            assert view[1].get(first.id, 0) == 0

        await eventually(redis_released)
    # The unit sells again, to the same member too (their count came back).
    again = await buy(client, merchant, first, activity["id"], sku.id)
    assert again.status_code == 201, again.text
    problem(await buy(client, merchant, second, activity["id"], sku.id), 409, "flashsale.sold_out")
    stats = await client.get(
        f"{merchant.merchant}/flashsale/activities/{activity['id']}/stats", headers=merchant.auth
    )
    body = stats.json()
    assert (body["sold"], body["pending"], body["unpaid_releases"], body["orders"]) == (1, 1, 1, 2)


async def test_paid_and_refunded_units(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await flash_store(client)
    sku, activity = await sale(
        client, rt, merchant, units=4, sku_stock=10, member_limit=2, order_limit=2
    )
    [member] = await buyers(rt, merchant, 1)
    won = await buy(client, merchant, member, activity["id"], sku.id, quantity=2)
    assert won.status_code == 201, won.text
    order_id, payable = won.json()["order_id"], won.json()["payable"]
    assert payable == 2 * 990
    tenant = await rt.tenants.resolve(merchant.slug)
    job = Principal(kind="job", id="test", tenant_id=merchant.id)

    async with rt.tenant_context(tenant, job) as ctx:
        await mark_paid(ctx, order_id, payable, actor="job:test")
    stats = (
        await client.get(
            f"{merchant.merchant}/flashsale/activities/{activity['id']}/stats",
            headers=merchant.auth,
        )
    ).json()
    assert (stats["paid"], stats["revenue"], stats["sell_through_percent"]) == (2, 1980, 50)
    assert stats["pending"] == 0

    # A whole refund with the goods back: the units return to the SKU's own stock; the
    # activity's count and the member's limit stay (docs/plugins.md explains why).
    async with rt.tenant_context(tenant, job) as ctx:
        order = await ctx.session.get(Order, (merchant.id, order_id))
        assert order is not None
        refund = Refund(
            id="01HZZZZZZZZZZZZZZZZZZZZZZZ",
            order_id=order_id,
            payment_id="",
            member_id=member.id,
            provider="sandbox",
            amount=payable,
            whole_order=True,
            restock=True,
            requested_by="job:test",
        )
        await call_acting(ctx.hooks.refund_succeeded(ctx=ctx, refund=refund, order=order))
        await call_acting(ctx.hooks.refund_succeeded(ctx=ctx, refund=refund, order=order))
    assert await stock_of(rt, merchant, sku.id) == 10 - 4 + 2
    stats = (
        await client.get(
            f"{merchant.merchant}/flashsale/activities/{activity['id']}/stats",
            headers=merchant.auth,
        )
    ).json()
    assert (stats["refunded"], stats["revenue"], stats["sold"]) == (2, 0, 2)
    again = await buy(client, merchant, member, activity["id"], sku.id)
    problem(again, 409, "flashsale.limit_exceeded")


async def test_end_returns_unsold_stock_and_records_the_reconcile(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await flash_store(client)
    sku, activity = await sale(client, rt, merchant, units=5, sku_stock=8, lasts=1.5)
    [member] = await buyers(rt, merchant, 1)
    won = await buy(client, merchant, member, activity["id"], sku.id)
    assert won.status_code == 201, won.text
    assert await stock_of(rt, merchant, sku.id) == 3
    await asyncio.sleep(1.6)

    # The timer queued at publish may have run it already (in-process jobs); then it is a
    # no-op, as is every run after the first.
    await jobs.end_job(rt, merchant.id, activity["id"])
    assert not await jobs.end_job(rt, merchant.id, activity["id"])

    row = await _activity(rt, merchant, activity["id"])
    assert row.status == "ended" and row.closed_at is not None
    assert row.reconcile["stock"] == {} and row.reconcile["members"] == {}
    assert await stock_of(rt, merchant, sku.id) == 3 + 4  # the 4 unsold came back
    problem(await buy(client, merchant, member, activity["id"], sku.id), 409, "flashsale.ended")
    # The held unit comes home when its order is released after the end.
    order_id = won.json()["order_id"]
    await _overdue(rt, merchant, order_id)
    assert await expire_unpaid(rt, merchant.id, order_id)
    assert await stock_of(rt, merchant, sku.id) == 8
    state = await truth(rt, merchant, activity["id"], sku.id, limit=1)
    assert (state.stock, state.sold) == (0, 0)


async def test_sweep_starts_due_sales_and_rebuilds_lost_keys(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await flash_store(client)
    sku, soon = await sale(client, rt, merchant, units=3, starts_in=1)
    assert soon["status"] == "scheduled"
    [member] = await buyers(rt, merchant, 1)
    problem(await buy(client, merchant, member, soon["id"], sku.id), 409, "flashsale.not_started")
    await asyncio.sleep(1.1)

    await jobs.sweep(rt)

    assert (await _activity(rt, merchant, soon["id"])).status == "running"
    assert (await buy(client, merchant, member, soon["id"], sku.id)).status_code == 201
    if rt.redis is not None:
        await flush_keys(rt, merchant, soon["id"])
        await jobs.sweep(rt)
        assert await redis_view(rt, merchant, soon["id"]) == ({sku.id: 2}, {member.id: 1})


async def test_merchant_crud_publish_and_cancel(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await flash_store(client)
    url = f"{merchant.merchant}/flashsale/activities"
    sku = await make_sku(rt, merchant, price=5000, stock=10)

    bad = activity_body([(sku, 100, 1)], lasts=-10)
    problem(
        await client.post(url, json=bad, headers=merchant.auth), 422, "flashsale.invalid_window"
    )
    pricey = activity_body([(sku, 6000, 1)])
    problem(
        await client.post(url, json=pricey, headers=merchant.auth), 422, "flashsale.invalid_price"
    )
    twice = activity_body([(sku, 100, 1), (sku, 100, 1)])
    problem(
        await client.post(url, json=twice, headers=merchant.auth), 422, "flashsale.duplicate_sku"
    )

    draft = await create_activity(client, merchant, activity_body([(sku, 100, 3)]), publish=False)
    assert draft["status"] == "draft"
    edited = await client.put(
        f"{url}/{draft['id']}", json=activity_body([(sku, 200, 4)]), headers=merchant.auth
    )
    assert edited.status_code == 200 and edited.json()["items"][0]["stock"] == 4
    published = await client.post(f"{url}/{draft['id']}/publish", headers=merchant.auth)
    assert published.json()["status"] == "running", published.text
    assert await stock_of(rt, merchant, sku.id) == 6
    problem(
        await client.put(
            f"{url}/{draft['id']}", json=activity_body([(sku, 1, 1)]), headers=merchant.auth
        ),
        409,
        "flashsale.invalid_state",
    )
    overlapping = await create_activity(
        client, merchant, activity_body([(sku, 100, 1)], starts_in=600), publish=False
    )
    answer = await client.post(f"{url}/{overlapping['id']}/publish", headers=merchant.auth)
    problem(answer, 409, "flashsale.sku_overlap")
    greedy_sku = await make_sku(rt, merchant, stock=2)
    greedy = await create_activity(
        client, merchant, activity_body([(greedy_sku, 100, 3)]), publish=False
    )
    answer = await client.post(f"{url}/{greedy['id']}/publish", headers=merchant.auth)
    problem(answer, 409, "flashsale.insufficient_stock")
    assert await stock_of(rt, merchant, greedy_sku.id) == 2
    assert (await client.delete(f"{url}/{greedy['id']}", headers=merchant.auth)).status_code == 204

    [member] = await buyers(rt, merchant, 1)
    assert (await buy(client, merchant, member, draft["id"], sku.id)).status_code == 201
    cancelled = await client.post(f"{url}/{draft['id']}/cancel", headers=merchant.auth)
    assert cancelled.json()["status"] == "cancelled", cancelled.text
    assert await stock_of(rt, merchant, sku.id) == 6 + 3  # the 3 unsold; 1 is held
    problem(await buy(client, merchant, member, draft["id"], sku.id), 409, "flashsale.ended")
    listed = await client.get(f"{url}?status=cancelled", headers=merchant.auth)
    assert [a["id"] for a in listed.json()["items"]] == [draft["id"]]
