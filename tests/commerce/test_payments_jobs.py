"""The payments' jobs with the sandbox provider (the WeChat Pay versions, against the fake
server, are in tests/e2e/test_wechatpay.py): a cancelled order's pending payment is closed by
the ``order_cancelled`` hook's job, and the reconcile sweep closes expired payments, leaves
young ones alone and goes on past a store whose account is broken.

On SQLite the in-process cron may run the sweep at the same moment as a test; assertions are
about the payments' states, not about which run moved them.
"""

from __future__ import annotations

import httpx

from core.payments import jobs
from core.payments.models import Payment
from core.runtime import Runtime
from storeplug.testing import Merchant, eventually
from tests.commerce.orders_support import Shop, insert_order, make_sku
from tests.commerce.payments_support import (
    age_payment,
    drain,
    payment_row,
)
from tests.commerce.test_payments import pending_payment, sandbox_shop


async def open_payment(
    rt: Runtime, shop: Shop, *, provider: str = "sandbox", prepay_id: str = "sandbox-prepay"
) -> Payment:
    order_id = await insert_order(
        rt, shop.merchant, shop.buyer.id, await make_sku(rt, shop.merchant)
    )
    payment = await pending_payment(rt, shop, order_id)
    async with rt.db.tenant_session(shop.merchant.id) as session:
        row = await session.get(Payment, (shop.merchant.id, payment.id))
        assert row is not None
        row.provider, row.prepay_id = provider, prepay_id
    return payment


async def status_is(rt: Runtime, merchant: Merchant, payment_id: str, status: str) -> bool:
    return (await payment_row(rt, merchant, payment_id)).status == status


def test_the_jobs_are_registered(rt: Runtime) -> None:
    assert {spec.name for spec in jobs.JOBS} == {jobs.RECONCILE_JOB, jobs.CLOSE_JOB}
    assert [(c.job, c.cron) for c in jobs.CRONS] == [(jobs.RECONCILE_JOB, "* * * * *")]


async def test_cancelling_an_order_closes_its_payment(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    """``order_cancelled`` (core.payments.hooks) enqueues ``payments.close_for_order``."""
    shop = await sandbox_shop(client, rt)
    payment = await open_payment(rt, shop)
    cancelled = await client.post(
        f"{shop.merchant.store}/orders/{payment.order_id}/cancel",
        json={},
        headers=shop.buyer.auth,
    )
    assert cancelled.status_code == 200, cancelled.text
    await drain(rt)
    await eventually(
        lambda: status_is(rt, shop.merchant, payment.id, "closed"), what="the payment closed"
    )
    closed = await payment_row(rt, shop.merchant, payment.id)
    assert closed.checked_at is not None and closed.paid_amount == 0


async def test_reconcile_closes_expired_payments_and_leaves_young_ones(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    shop = await sandbox_shop(client, rt)
    expired = await open_payment(rt, shop)
    never_opened = await open_payment(rt, shop, prepay_id="")
    waiting = await open_payment(rt, shop)
    young = await open_payment(rt, shop)
    await age_payment(rt, shop.merchant, expired.id, expired=True)
    await age_payment(rt, shop.merchant, never_opened.id, expired=True)
    await age_payment(rt, shop.merchant, waiting.id)

    await jobs.reconcile(rt)
    assert await status_is(rt, shop.merchant, expired.id, "closed")
    assert await status_is(rt, shop.merchant, never_opened.id, "closed")
    # Still within its deadline: asked about (the sandbox says pending) and left pending.
    asked = await payment_row(rt, shop.merchant, waiting.id)
    assert asked.status == "pending" and asked.checked_at is not None
    untouched = await payment_row(rt, shop.merchant, young.id)
    assert untouched.status == "pending" and untouched.checked_at is None
    # Asked a moment ago: the next run leaves it alone.
    again = await jobs.reconcile(rt)
    assert waiting.id not in again


async def test_one_broken_store_does_not_stop_the_sweep(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    broken = await sandbox_shop(client, rt)
    healthy = await sandbox_shop(client, rt)
    # A WeChat Pay payment of a store that has no WeChat Pay account (any more).
    lost = await open_payment(rt, broken, provider="wechatpay", prepay_id="wx-prepay")
    fine = await open_payment(rt, healthy)
    for shop, payment in ((broken, lost), (healthy, fine)):
        await age_payment(rt, shop.merchant, payment.id, expired=True)

    await jobs.reconcile(rt)
    assert await status_is(rt, healthy.merchant, fine.id, "closed")
    stuck = await payment_row(rt, broken.merchant, lost.id)
    # Left pending, asked about again on a later run.
    assert stuck.status == "pending" and stuck.checked_at is not None

    # Closing it for its order fails the same way, and changes nothing.
    assert await jobs.close_for_order(rt, broken.merchant.id, lost.order_id) == {}
    assert await status_is(rt, broken.merchant, lost.id, "pending")
