"""Paying with the sandbox provider over HTTP, and settling a payment exactly once: the order
is paid through the same function a notification uses, ``payment_succeeded`` fires once, a
replay or a second pay call has no second effect, and every order that cannot be paid (paid,
cancelled, expired, someone else's) is refused without a payment being written."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import httpx
import pytest
from msgspec.structs import replace
from sqlalchemy import select, update

from core.catalog.models import Sku
from core.db import utcnow
from core.errors import AppError
from core.orders.models import Order
from core.payments.models import Payment, Refund
from core.payments.providers import PaymentResult
from core.payments.service import apply_payment_result, describe
from core.runtime import Runtime
from storeplug.testing import make_member, problem
from tests.commerce.orders_support import (
    Shop,
    direct,
    insert_order,
    make_address,
    make_sku,
    new_shop,
    order_row,
    place,
)
from tests.commerce.payments_support import (
    listening,
    member_total_paid,
    pay,
    payments_of,
    product_sales,
    use_sandbox,
)


async def placed(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, *, price: int = 1990, quantity: int = 2
) -> tuple[str, Sku]:
    """An order placed over HTTP by the shop's buyer; (order id, its SKU)."""
    sku = await make_sku(rt, shop.merchant, price=price, stock=50)
    address = await make_address(rt, shop.merchant, shop.buyer.id)
    response = await place(client, shop.merchant, shop.buyer, direct(sku, quantity, address))
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id, sku


async def sandbox_shop(client: httpx.AsyncClient, rt: Runtime) -> Shop:
    shop = await new_shop(client, rt)
    await use_sandbox(client, shop.merchant)
    return shop


async def test_sandbox_pays_the_order_once(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await sandbox_shop(client, rt)
    order_id, sku = await placed(client, rt, shop)
    payable = (await order_row(rt, shop.merchant, order_id)).payable
    with listening(rt) as hooks:
        response = await pay(client, shop.merchant, shop.buyer, order_id)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["provider"] == "sandbox"
        assert (body["amount"], body["status"], body["order_status"]) == (
            payable,
            "succeeded",
            "paid",
        )
        assert body["params"] == {}
        # A second pay call is refused: the order is paid.
        again = await pay(client, shop.merchant, shop.buyer, order_id)
        problem(again, 409, "order.already_paid")
    assert hooks.of("order_paid", order_id) == 1
    assert hooks.of("payment_succeeded", order_id) == 1

    order = await order_row(rt, shop.merchant, order_id)
    assert (order.status, order.paid_amount) == ("paid", payable)
    [payment] = await payments_of(rt, shop.merchant, order_id)
    assert payment.id == body["payment_id"]
    assert (payment.status, payment.paid_amount, payment.late) == ("succeeded", payable, False)
    assert payment.transaction_id.startswith("sandbox-") and payment.paid_at is not None
    assert await member_total_paid(rt, shop.merchant, shop.buyer.id) == payable
    assert await product_sales(rt, shop.merchant, sku.product_id) == 2
    seen = await client.get(f"{shop.merchant.store}/orders/{order_id}", headers=shop.buyer.auth)
    assert seen.json()["status"] == "paid"


async def test_a_replay_returns_the_same_answer(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await sandbox_shop(client, rt)
    order_id, _ = await placed(client, rt, shop)
    other_id, _ = await placed(client, rt, shop)
    key = secrets.token_hex(8)
    with listening(rt) as hooks:
        first = await pay(client, shop.merchant, shop.buyer, order_id, key)
        replay = await pay(client, shop.merchant, shop.buyer, order_id, key)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert hooks.of("payment_succeeded", order_id) == 1
    # The same key for another order is another request.
    problem(
        await pay(client, shop.merchant, shop.buyer, other_id, key), 422, "idempotency.key_reused"
    )
    assert (await order_row(rt, shop.merchant, other_id)).status == "pending_payment"
    missing = await client.post(
        f"{shop.merchant.store}/orders/{other_id}/pay", json={}, headers=shop.buyer.auth
    )
    problem(missing, 400, "idempotency.key_required")


async def test_concurrent_pay_calls_share_one_payment(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    shop = await sandbox_shop(client, rt)
    order_id, _ = await placed(client, rt, shop)
    payable = (await order_row(rt, shop.merchant, order_id)).payable
    with listening(rt) as hooks:
        answers = await asyncio.gather(
            *(pay(client, shop.merchant, shop.buyer, order_id) for _ in range(6))
        )
    paid_ids = set()
    for answer in answers:
        if answer.status_code == 201:
            assert answer.json()["order_status"] == "paid"
            paid_ids.add(answer.json()["payment_id"])
        else:
            assert answer.json()["code"] in ("order.already_paid", "idempotency.in_flight"), (
                answer.text
            )
    [payment] = await payments_of(rt, shop.merchant, order_id)
    assert paid_ids <= {payment.id} and paid_ids
    assert hooks.of("payment_succeeded", order_id) == 1
    assert hooks.of("order_paid", order_id) == 1
    assert await member_total_paid(rt, shop.merchant, shop.buyer.id) == payable


async def test_orders_that_cannot_be_paid(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await sandbox_shop(client, rt)
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, stock=50)

    cancelled = await insert_order(rt, merchant, buyer.id, sku, status="cancelled")
    problem(await pay(client, merchant, buyer, cancelled), 409, "order.invalid_transition")
    for status in ("paid", "shipped", "completed"):
        done = await insert_order(rt, merchant, buyer.id, sku, status=status)
        problem(await pay(client, merchant, buyer, done), 409, "order.already_paid")
    expired = await insert_order(rt, merchant, buyer.id, sku)
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(
            update(Order)
            .where(Order.id == expired)
            .values(payment_deadline=utcnow() - timedelta(seconds=1))
        )
    problem(await pay(client, merchant, buyer, expired), 409, "order.payment_expired")

    # Someone else's order, in this store or another, is not found.
    mine = await insert_order(rt, merchant, buyer.id, sku)
    stranger = await make_member(rt, merchant, "stranger")
    problem(await pay(client, merchant, stranger, mine), 404, "order.not_found")
    # Before the Idempotency-Key is even looked at.
    keyless = await client.post(f"{merchant.store}/orders/{mine}/pay", headers=stranger.auth)
    problem(keyless, 404, "order.not_found")
    other = await sandbox_shop(client, rt)
    theirs = await insert_order(
        rt, other.merchant, other.buyer.id, await make_sku(rt, other.merchant)
    )
    problem(await pay(client, merchant, buyer, theirs), 404, "order.not_found")
    # A token of another store is refused on this one.
    problem(await pay(client, merchant, other.buyer, mine), 401, "auth.invalid_token")
    problem(await pay(client, merchant, buyer, "not-an-id"), 404, "order.not_found")
    unknown = await client.post(
        f"{merchant.store}/orders/{mine}/pay",
        json={"provider": "paypal"},
        headers={**buyer.auth, "Idempotency-Key": "k1"},
    )
    problem(unknown, 404, "payment.unknown_provider")
    not_set_up = await client.post(
        f"{merchant.store}/orders/{mine}/pay",
        json={"provider": "wechatpay"},
        headers={**buyer.auth, "Idempotency-Key": "k2"},
    )
    problem(not_set_up, 409, "payment.not_configured")
    for order_id in (cancelled, expired, mine, theirs):
        assert await payments_of(rt, merchant, order_id) == []
    assert (await order_row(rt, other.merchant, theirs)).status == "pending_payment"


async def test_a_store_without_an_account_cannot_take_payments(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    shop = await new_shop(client, rt)
    order_id, _ = await placed(client, rt, shop)
    problem(await pay(client, shop.merchant, shop.buyer, order_id), 409, "payment.not_configured")
    assert await payments_of(rt, shop.merchant, order_id) == []


async def test_nothing_to_pay_is_paid_at_once(client: httpx.AsyncClient, rt: Runtime) -> None:
    """A zero payable (a 100% coupon) needs no provider and no account: the order is paid on
    the spot; there is no payment, so no ``payment_succeeded``."""
    shop = await new_shop(client, rt)
    sku = await make_sku(rt, shop.merchant)
    order_id = await insert_order(rt, shop.merchant, shop.buyer.id, sku)
    async with rt.db.tenant_session(shop.merchant.id) as session:
        await session.execute(update(Order).where(Order.id == order_id).values(payable=0))
    with listening(rt) as hooks:
        response = await pay(client, shop.merchant, shop.buyer, order_id)
    assert response.status_code == 201, response.text
    assert response.json() == {
        "payment_id": None,
        "provider": None,
        "amount": 0,
        "status": "succeeded",
        "order_status": "paid",
        "params": {},
    }
    assert (await order_row(rt, shop.merchant, order_id)).status == "paid"
    assert hooks.of("order_paid", order_id) == 1 and hooks.of("payment_succeeded", order_id) == 0
    assert await payments_of(rt, shop.merchant, order_id) == []


# ---- settling: the function notifications, the query job and the sandbox share -------------------


async def pending_payment(rt: Runtime, shop: Shop, order_id: str) -> Payment:
    """A payment opened at a provider that has not reported yet."""
    order = await order_row(rt, shop.merchant, order_id)
    async with rt.db.tenant_session(shop.merchant.id) as session:
        payment = Payment(
            order_id=order_id,
            member_id=order.member_id,
            provider="sandbox",
            amount=order.payable,
            prepay_id="sandbox-prepay-test",
            expires_at=order.payment_deadline or utcnow(),
        )
        session.add(payment)
        await session.flush()
    return payment


def paid(payment: Payment, amount: int | None = None) -> PaymentResult:
    return PaymentResult(
        out_trade_no=payment.id,
        state="succeeded",
        amount=payment.amount if amount is None else amount,
        transaction_id="4200000" + secrets.token_hex(8),
        paid_at=utcnow(),
        provider_state="SUCCESS",
    )


async def test_five_concurrent_reports_settle_once(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await sandbox_shop(client, rt)
    order_id, sku = await placed(client, rt, shop, quantity=3)
    payment = await pending_payment(rt, shop, order_id)
    tenant = await rt.tenants.resolve(shop.merchant.slug)
    report = paid(payment)
    with listening(rt) as hooks:
        applied = await asyncio.gather(
            *(
                apply_payment_result(rt, tenant, payment.id, report, actor="webhook:sandbox")
                for _ in range(5)
            )
        )
    assert sorted(applied) == [False, False, False, False, True]
    assert hooks.of("payment_succeeded", order_id) == 1 and hooks.of("order_paid", order_id) == 1
    assert await member_total_paid(rt, shop.merchant, shop.buyer.id) == payment.amount
    assert await product_sales(rt, shop.merchant, sku.product_id) == 3
    [row] = await payments_of(rt, shop.merchant, order_id)
    assert (row.status, row.transaction_id) == ("succeeded", report.transaction_id)


async def test_a_report_that_does_not_match_changes_nothing(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    shop = await sandbox_shop(client, rt)
    order_id, _ = await placed(client, rt, shop)
    payment = await pending_payment(rt, shop, order_id)
    tenant = await rt.tenants.resolve(shop.merchant.slug)
    other = await sandbox_shop(client, rt)
    other_tenant = await rt.tenants.resolve(other.merchant.slug)
    wrong = {
        "payment.amount_mismatch": (tenant, payment.id, paid(payment, payment.amount - 1)),
        "payment.result_mismatch": (tenant, payment.id, replace(paid(payment), out_trade_no="x")),
        "payment.not_found": (other_tenant, payment.id, paid(payment)),
    }
    with listening(rt) as hooks:
        for code, (where, payment_id, result) in wrong.items():
            with pytest.raises(AppError) as refused:
                await apply_payment_result(rt, where, payment_id, result, actor="webhook:sandbox")
            assert refused.value.code == code
        unpaid = PaymentResult(out_trade_no=payment.id, state="pending")
        with pytest.raises(AppError, match="not succeeded"):
            await apply_payment_result(rt, tenant, payment.id, unpaid, actor="job:test")
    assert hooks.calls == []
    [row] = await payments_of(rt, shop.merchant, order_id)
    assert (row.status, row.paid_amount, row.transaction_id) == ("pending", 0, "")
    assert (await order_row(rt, shop.merchant, order_id)).status == "pending_payment"


async def test_money_for_a_cancelled_order_is_refunded(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    """The timeout cancelled the order while the buyer was paying: the payment is marked late,
    recorded on the order, and refunded at once (``core.payments.refunds.refund_late_payment``,
    engineer E's); ``payment_succeeded`` does not fire."""
    shop = await sandbox_shop(client, rt)
    order_id, _ = await placed(client, rt, shop)
    payment = await pending_payment(rt, shop, order_id)
    cancelled = await client.post(
        f"{shop.merchant.store}/orders/{order_id}/cancel", json={}, headers=shop.buyer.auth
    )
    assert cancelled.status_code == 200, cancelled.text
    tenant = await rt.tenants.resolve(shop.merchant.slug)
    with listening(rt) as hooks:
        applied = await apply_payment_result(rt, tenant, payment.id, paid(payment), actor="job:t")
        again = await apply_payment_result(rt, tenant, payment.id, paid(payment), actor="job:t")
    assert (applied, again) == (True, False)
    assert hooks.calls == []
    [row] = await payments_of(rt, shop.merchant, order_id)
    assert (row.status, row.late, row.paid_amount) == ("succeeded", True, payment.amount)
    order = await order_row(rt, shop.merchant, order_id)
    assert (order.status, order.paid_amount) == ("cancelled", payment.amount)
    async with rt.db.tenant_session(shop.merchant.id) as session:
        refunds = (await session.scalars(select(Refund).where(Refund.order_id == order_id))).all()
    assert [(r.payment_id, r.amount) for r in refunds] == [(payment.id, payment.amount)]


def test_description_fits_wechat() -> None:
    assert describe("咖啡店", "2026112200001") == "咖啡店 2026112200001"
    long = describe("店" * 60, "2026112200001")
    assert len(long.encode()) <= 127
    assert long.startswith("店") and long.endswith(" 2026112200001")
