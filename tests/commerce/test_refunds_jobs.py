"""The refund jobs and the service calls other modules make: the reconcile sweep (a lost
submission, a lost notification, one tenant failing), the provider's final word applied once
(a failure gives the hold back), a plugin's refund and a late payment's refund."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update

from core.db import utcnow
from core.errors import AppError
from core.orders.models import Order
from core.payments.models import Payment, PaymentAccount, Refund
from core.payments.providers import RefundResult
from core.payments.refund_jobs import reconcile
from core.payments.refund_schemas import RefundLineIn
from core.payments.refunds import apply_refund_result, refund_late_payment, refund_order
from core.runtime import Runtime
from storeplug.testing import Merchant, enable, problem
from tests.commerce.orders_support import (
    Shop,
    insert_order,
    make_sku,
    movements,
    new_shop,
    stock_of,
)
from tests.commerce.payments_support import use_sandbox
from tests.commerce.refunds_support import (
    ask_refund,
    hook_events,
    line_of,
    order_and_lines,
    paid_order,
    refund_directly,
    settled,
)

REASON = {"reason": "七天无理由"}


async def lost_approval(rt: Runtime, merchant: Merchant, refund_id: str, **values: Any) -> None:
    """Make a requested refund look approved minutes ago, its submission never sent."""
    old = utcnow() - timedelta(minutes=5)
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(
            update(Refund)
            .where(Refund.id == refund_id)
            .values(status="processing", created_at=old, decided_at=old, **values)
        )


async def requested(client: httpx.AsyncClient, rt: Runtime, shop: Shop) -> tuple[str, str]:
    """(order id, refund id) of a paid order whose buyer asked for all of it back."""
    sku = await make_sku(rt, shop.merchant, price=1800, stock=5)
    order = await paid_order(client, rt, shop, [(sku, 1)])
    asked = await ask_refund(client, shop.merchant, shop.buyer, order["id"], REASON)
    assert asked.status_code == 201, asked.text
    return order["id"], asked.json()["id"]


async def test_reconcile_sends_a_lost_submission_again(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, worker: None
) -> None:
    merchant = shop.merchant
    order_id, refund_id = await requested(client, rt, shop)
    await lost_approval(rt, merchant, refund_id)
    await reconcile(rt)
    done = await settled(client, rt, merchant, refund_id, "succeeded")
    assert done["provider_refund_id"].startswith("sandbox-refund-")
    row, _ = await order_and_lines(rt, merchant, order_id)
    assert row.status == "refunded" and row.refunded_amount == 1800


async def test_reconcile_asks_about_an_acknowledged_refund(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, worker: None
) -> None:
    merchant = shop.merchant
    assert (await enable(client, merchant, "echo")).status_code == 200
    order_id, refund_id = await requested(client, rt, shop)
    await lost_approval(rt, merchant, refund_id, provider_refund_id="sandbox-refund-acked")
    _, fresh_id = await requested(client, rt, shop)
    await lost_approval(rt, merchant, fresh_id, provider_refund_id="x", checked_at=utcnow())
    await reconcile(rt)
    await settled(client, rt, merchant, refund_id, "succeeded")
    row, _ = await order_and_lines(rt, merchant, order_id)
    assert row.status == "refunded"
    assert hook_events("refund_succeeded", merchant.id) == [(refund_id, order_id)]
    # Looked at a moment ago: left for a later run.
    async with rt.db.tenant_session(merchant.id) as session:
        fresh = await session.get(Refund, (merchant.id, fresh_id))
        assert fresh is not None and fresh.status == "processing"


async def test_one_tenant_failing_does_not_stop_the_others(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    broken, working = await new_shop(client, rt), await new_shop(client, rt)
    _, broken_refund = await requested(client, rt, broken)
    _, working_refund = await requested(client, rt, working)
    for shop, refund_id in ((broken, broken_refund), (working, working_refund)):
        await lost_approval(rt, shop.merchant, refund_id, provider_refund_id="acked")
    async with rt.db.tenant_session(broken.merchant.id) as session:
        await session.execute(delete(PaymentAccount))  # the store removed its credentials
    await reconcile(rt)
    await settled(client, rt, working.merchant, working_refund, "succeeded")
    async with rt.db.tenant_session(broken.merchant.id) as session:
        stuck = await session.get(Refund, (broken.merchant.id, broken_refund))
        assert stuck is not None and stuck.status == "processing" and stuck.checked_at


async def test_a_failed_refund_gives_its_hold_back_once(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, worker: None
) -> None:
    merchant = shop.merchant
    order_id, refund_id = await requested(client, rt, shop)
    await lost_approval(rt, merchant, refund_id, checked_at=utcnow())
    tenant = await rt.tenants.resolve(merchant.slug)
    failed = RefundResult(out_refund_no=refund_id, state="failed", provider_state="ABNORMAL")
    assert await apply_refund_result(rt, tenant, failed, actor="job:test") is True
    assert await apply_refund_result(rt, tenant, failed, actor="job:test") is False
    late_success = RefundResult(out_refund_no=refund_id, state="succeeded", amount=1800)
    assert await apply_refund_result(rt, tenant, late_success, actor="job:test") is False
    for unknown in ("0" * 26, "not-an-id"):
        stray = RefundResult(out_refund_no=unknown, state="succeeded")
        assert await apply_refund_result(rt, tenant, stray, actor="job:test") is False
    other = await new_shop(client, rt)
    other_tenant = await rt.tenants.resolve(other.merchant.slug)
    foreign = RefundResult(out_refund_no=refund_id, state="succeeded", amount=1800)
    assert await apply_refund_result(rt, other_tenant, foreign, actor="job:test") is False

    row, lines = await order_and_lines(rt, merchant, order_id)
    assert row.refund_held == 0 and row.refunded_amount == 0 and row.status == "paid"
    assert [line.refund_held_quantity for line in lines.values()] == [0]
    refund = await client.get(f"{merchant.merchant}/refunds/{refund_id}", headers=merchant.auth)
    assert refund.json()["status"] == "failed" and refund.json()["provider_status"] == "ABNORMAL"
    again = await refund_directly(client, merchant, order_id, REASON)
    assert again.status_code == 201, again.text
    await settled(client, rt, merchant, again.json()["id"], "succeeded")


async def test_a_result_of_another_amount_is_refused(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant = shop.merchant
    order_id, refund_id = await requested(client, rt, shop)
    await lost_approval(rt, merchant, refund_id, checked_at=utcnow())
    tenant = await rt.tenants.resolve(merchant.slug)
    wrong = RefundResult(out_refund_no=refund_id, state="succeeded", amount=1)
    with pytest.raises(AppError) as refused:
        await apply_refund_result(rt, tenant, wrong, actor="job:test")
    assert refused.value.code == "refund.amount_mismatch"
    row, _ = await order_and_lines(rt, merchant, order_id)
    assert row.refunded_amount == 0 and row.refund_held == 1800


async def test_a_plugin_refunds_some_units(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, worker: None
) -> None:
    merchant = shop.merchant
    assert (await enable(client, merchant, "echo")).status_code == 200
    sku = await make_sku(rt, merchant, price=1000, stock=5)
    order_json = await paid_order(client, rt, shop, [(sku, 3)])
    tenant = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        order = await ctx.session.get(Order, (tenant.id, order_json["id"]))
        assert order is not None
        refund = await refund_order(
            ctx,
            order,
            reason="拼团失败",
            actor="job:groupbuy.expire",
            lines=[RefundLineIn(line_id=line_of(order_json, sku), quantity=2)],
        )
        assert refund.status == "processing" and refund.amount == 2 * (3000 - 100) // 3
    done = await settled(client, rt, merchant, refund.id, "succeeded")
    assert done["requested_by"] == "job:groupbuy.expire"
    assert await stock_of(rt, merchant, sku.id) == 4
    assert hook_events("refund_succeeded", merchant.id) == [(refund.id, order_json["id"])]
    assert hook_events("order_refunded", merchant.id) == []
    pending_id = await insert_order(rt, merchant, shop.buyer.id, sku)
    async with rt.tenant_context(tenant) as ctx:
        pending = await ctx.session.get(Order, (tenant.id, pending_id))
        assert pending is not None
        with pytest.raises(AppError) as refused:
            await refund_order(ctx, pending, reason="x", actor="job:test")
    assert refused.value.code == "refund.not_allowed"


async def test_a_late_payment_is_refunded_whole_without_touching_the_order(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, worker: None
) -> None:
    merchant = shop.merchant
    assert (await enable(client, merchant, "echo")).status_code == 200
    await use_sandbox(client, merchant)
    sku = await make_sku(rt, merchant, price=2200, stock=5)
    order_id = await insert_order(rt, merchant, shop.buyer.id, sku, status="cancelled")
    tenant = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        order = await ctx.session.get(Order, (tenant.id, order_id))
        assert order is not None
        payment = Payment(
            order_id=order_id,
            member_id=shop.buyer.id,
            provider="sandbox",
            amount=2200,
            status="succeeded",
            paid_amount=2200,
            paid_at=utcnow(),
            late=True,
            expires_at=utcnow(),
        )
        ctx.session.add(payment)
        order.paid_amount = 2200  # what the payments module records before calling
        refund = await refund_late_payment(ctx, payment, order)
        assert refund.whole_order and refund.lines == [] and refund.restock is False
        assert refund.reason == "paid after the order was cancelled"
    await settled(client, rt, merchant, refund.id, "succeeded")
    row, lines = await order_and_lines(rt, merchant, order_id)
    assert row.status == "cancelled" and row.refunded_amount == row.paid_amount == 2200
    assert [line.refunded_quantity for line in lines.values()] == [0]
    assert await movements(rt, merchant, sku.id, "refund_restock") == 0
    assert hook_events("refund_succeeded", merchant.id) == [(refund.id, order_id)]
    assert hook_events("order_refunded", merchant.id) == []
    nothing_left = await refund_directly(client, merchant, order_id, REASON)
    problem(nothing_left, 409, "refund.exceeds_paid")
    line = next(iter(lines))
    no_lines = await refund_directly(
        client, merchant, order_id, {**REASON, "lines": [{"line_id": line, "quantity": 1}]}
    )
    problem(no_lines, 409, "refund.not_allowed")
