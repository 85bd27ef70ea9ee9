"""Paying for an order, and settling a payment exactly once.

The pay call (``pay``) runs in three steps so that the provider is never called inside a
database transaction: (1) a short transaction checks the order and gets or creates its
``Payment`` for the provider; (2) with no transaction open, the provider opens the payment
(WeChat's JSAPI prepay) unless a usable prepay exists; (3) a short transaction stores the
prepay and, for a provider that settles at once (the sandbox), applies the result.

``apply_payment_result`` is the one way a payment becomes ``succeeded``, whoever reports it
(the provider's notification, the query job, the sandbox): it checks the result against the
stored payment, flips the payment with a conditional UPDATE (a repeat changes nothing) and
marks the order paid. Money that arrives for an order the timeout already cancelled is marked
``late`` and refunded at once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from core.context import Principal, TenantContext, TenantInfo
from core.db import utcnow
from core.errors import AppError, Conflict
from core.members.models import Member
from core.orders.models import Order
from core.orders.service import OrderNotFound, get_order
from core.orders.state import InvalidTransition, mark_paid
from core.payments import refunds
from core.payments import schemas as s
from core.payments.accounts import account_in, notify_url
from core.payments.models import Payment
from core.payments.providers import Account, PaymentProvider, PaymentRequest, PaymentResult, Prepay
from core.plugins import call_acting

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("storeplug.payments")

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")  # an id as core.db.new_id makes it
PAID_STATES = frozenset({"paid", "awaiting_pickup", "shipped", "completed", "refunded"})
DESCRIPTION_BYTES = 127  # WeChat's limit on the description, in UTF-8 bytes
# A prepay this close to its end is replaced: the buyer still has to finish paying.
PREPAY_MARGIN = timedelta(minutes=5)
# When an order has no payment deadline, how long its payment stays open.
DEFAULT_WINDOW = timedelta(hours=2)


class PaymentNotFound(AppError):
    status = 404
    code = "payment.not_found"

    def __init__(self) -> None:
        super().__init__("no such payment")


class AmountMismatch(AppError):
    status = 400
    code = "payment.amount_mismatch"


class ResultMismatch(AppError):
    """A result that is not about this payment, or not a success: nothing to apply."""

    status = 400
    code = "payment.result_mismatch"


def principal_of(actor: str, tenant_id: str) -> Principal:
    """``job:payments.reconcile`` → the principal a settling transaction runs as."""
    kind, _, ident = actor.partition(":")
    return Principal(kind=kind, id=ident or kind, tenant_id=tenant_id)


# ---- settling ------------------------------------------------------------------------------


async def _refund_late(ctx: TenantContext, payment: Payment, order: Order) -> None:
    """Money for an order that can no longer take it: mark it late, record it on a cancelled
    order, and give it back at once."""
    await ctx.session.execute(
        update(Payment)
        .where(Payment.id == payment.id)
        .values(late=True)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(payment, "late", True)
    if order.status != "cancelled":
        # Paid twice (through two providers): the order keeps the first; this one needs a
        # person to look at it.
        log.error(
            "payment %s of tenant %s arrived for order %s, which is %s: refund it by hand",
            payment.id,
            ctx.tenant_id,
            order.id,
            order.status,
        )
        return
    recorded = await ctx.session.scalar(
        update(Order)
        .where(Order.id == order.id, Order.status == "cancelled", Order.paid_amount == 0)
        .values(paid_amount=payment.paid_amount, updated_at=utcnow())
        .returning(Order.id)
        .execution_options(synchronize_session=False)
    )
    if recorded is None:
        log.error(
            "late payment %s of tenant %s: order %s already holds another late payment; "
            "refund it by hand",
            payment.id,
            ctx.tenant_id,
            order.id,
        )
        return
    set_committed_value(order, "paid_amount", payment.paid_amount)
    log.warning(
        "payment %s of tenant %s arrived after order %s was cancelled; refunding it",
        payment.id,
        ctx.tenant_id,
        order.id,
    )
    await refunds.refund_late_payment(ctx, payment, order)


async def settle(
    ctx: TenantContext,
    payment_id: str,
    result: PaymentResult,
    *,
    actor: str,
    provider: str | None = None,
) -> bool:
    """``apply_payment_result`` inside the caller's transaction."""
    payment = await ctx.session.get(Payment, (ctx.tenant_id, payment_id), populate_existing=True)
    if payment is None or (provider is not None and payment.provider != provider):
        raise PaymentNotFound
    if result.out_trade_no != payment.id:
        raise ResultMismatch(f"the result is about {result.out_trade_no}, not {payment.id}")
    if result.state != "succeeded":
        raise ResultMismatch(f"the provider says {result.state}, not succeeded")
    if result.amount != payment.amount:
        log.error(
            "payment %s of tenant %s: the provider reports %s fen paid, %s fen were asked",
            payment.id,
            ctx.tenant_id,
            result.amount,
            payment.amount,
        )
        raise AmountMismatch(
            f"the provider reports {result.amount} fen paid; the payment is {payment.amount} fen"
        )
    now = utcnow()
    values = {
        "status": "succeeded",
        "transaction_id": result.transaction_id[:64],
        "paid_amount": result.amount,
        "paid_at": result.paid_at or now,
        "updated_at": now,
    }
    flipped = await ctx.session.scalar(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status != "succeeded")
        .values(**values)
        .returning(Payment.id)
        .execution_options(synchronize_session=False)
    )
    if flipped is None:
        return False  # a repeat: the first report already did everything
    for name, value in values.items():
        set_committed_value(payment, name, value)
    try:
        order = await mark_paid(ctx, payment.order_id, result.amount, actor=actor)
    except AppError as exc:
        if exc.code not in ("order.invalid_transition", "order.state_changed"):
            raise
        # The timeout (or the buyer) cancelled the order while the money was on its way.
        late = await ctx.session.get(
            Order, (ctx.tenant_id, payment.order_id), populate_existing=True
        )
        assert late is not None  # payments point at their order
        await _refund_late(ctx, payment, late)
        return True
    await call_acting(ctx.hooks.payment_succeeded(ctx=ctx, payment=payment, order=order))
    return True


async def apply_payment_result(
    rt: Runtime,
    tenant: TenantInfo,
    payment_id: str,
    result: PaymentResult,
    *,
    actor: str,
    provider: str | None = None,
) -> bool:
    """Apply a provider's success report to the payment ``payment_id`` (its out_trade_no),
    in one transaction: True when this call settled it, False for a repeat (no effect).

    Refused with nothing changed: 404 ``payment.not_found`` (not this tenant's, or not
    through ``provider`` when given),
    400 ``payment.result_mismatch`` (another payment, or not a success) and
    400 ``payment.amount_mismatch`` (logged as an error). ``actor`` is recorded on the order
    (``webhook:wechatpay``, ``job:payments.reconcile``, ``member:<id>``)."""
    async with rt.tenant_context(tenant, principal_of(actor, tenant.id)) as ctx:
        return await settle(ctx, payment_id, result, actor=actor, provider=provider)


# ---- paying --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """What step 1 found, carried to the provider call and step 3."""

    payment_id: str
    amount: int
    status: str
    prepay_id: str
    prepay_expires_at: datetime | None
    expires_at: datetime
    description: str
    openid: str

    def needs_prepay(self, now: datetime) -> bool:
        if self.status != "pending":
            return False
        if not self.prepay_id:
            return True
        # Renew a prepay about to end, unless it lasts as long as the payment itself does.
        ends = self.prepay_expires_at
        return ends is not None and ends < min(now + PREPAY_MARGIN, self.expires_at)


def describe(store: str, number: str) -> str:
    """``<store name> <order number>`` within WeChat's 127 UTF-8 bytes: a long store name is
    cut (on a character boundary), the order number never is."""
    room = DESCRIPTION_BYTES - len(number.encode()) - 1
    name = store.encode()[: max(room, 0)].decode(errors="ignore")
    return f"{name} {number}".strip()


def _check_payable(order: Order, now: datetime) -> None:
    if order.status in PAID_STATES:
        raise Conflict("this order is already paid", code="order.already_paid")
    if order.status != "pending_payment":
        raise InvalidTransition(f"a {order.status} order cannot be paid")
    if order.payment_deadline is not None and order.payment_deadline <= now:
        raise Conflict("the payment window of this order has closed", code="order.payment_expired")


async def _payment_for(ctx: TenantContext, order: Order, provider: str) -> Payment:
    """The order's payment through ``provider``: the existing one, else a new one. Two
    concurrent pay calls insert one row; the loser reads the winner's."""
    query = select(Payment).where(Payment.order_id == order.id, Payment.provider == provider)
    existing = await ctx.session.scalar(query)
    if existing is not None:
        return existing
    payment = Payment(
        order_id=order.id,
        member_id=order.member_id,
        provider=provider,
        amount=order.payable,
        expires_at=order.payment_deadline or utcnow() + DEFAULT_WINDOW,
    )
    try:
        async with ctx.session.begin_nested():
            ctx.session.add(payment)
    except IntegrityError:
        existing = await ctx.session.scalar(query)
        if existing is None:
            raise
        return existing
    return payment


async def require_own_order(
    rt: Runtime, tenant: TenantInfo, member: Principal, order_id: str
) -> None:
    """404 ``order.not_found`` unless ``order_id`` is this member's order in this store."""
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, tenant.id)
        owner = (
            await session.scalar(select(Order.member_id).where(Order.id == order_id))
            if ULID.match(order_id)
            else None
        )
    if owner != member.id:
        raise OrderNotFound


async def _open_attempt(
    rt: Runtime, tenant: TenantInfo, member: Principal, order_id: str, provider: str | None
) -> tuple[PaymentProvider, Account, Attempt] | s.PayOut:
    """Step 1; an order with nothing to pay is paid right here."""
    async with rt.tenant_context(tenant, member) as ctx:
        order = await get_order(ctx, order_id, member_id=member.id)
        now = utcnow()
        _check_payable(order, now)
        if order.payable == 0:
            await mark_paid(ctx, order.id, 0, actor=f"member:{member.id}")
            return s.PayOut(
                payment_id=None,
                provider=None,
                amount=0,
                status="succeeded",
                order_status=order.status,
                params={},
            )
        found, account = await account_in(ctx.session, rt, tenant, provider)
        payment = await _payment_for(ctx, order, found.name)
        if payment.status == "closed":
            raise Conflict("this order's payment was closed", code="order.payment_expired")
        openid = await ctx.session.scalar(select(Member.openid).where(Member.id == member.id))
        return (
            found,
            account,
            Attempt(
                payment_id=payment.id,
                amount=payment.amount,
                status=payment.status,
                prepay_id=payment.prepay_id,
                prepay_expires_at=payment.prepay_expires_at,
                expires_at=payment.expires_at,
                description=describe(tenant.branding.display_name or tenant.name, order.number),
                openid=openid or "",
            ),
        )


async def _finish(
    rt: Runtime,
    tenant: TenantInfo,
    member: Principal,
    order_id: str,
    attempt: Attempt,
    prepay: Prepay | None,
) -> tuple[Payment, Order]:
    """Step 3: keep the prepay, apply a settled one; the payment and order as they are now."""
    async with rt.tenant_context(tenant, member) as ctx:
        order = await get_order(ctx, order_id, member_id=member.id)
        if order.status == "cancelled":
            # Cancelled while the provider was called: the buyer gets no way to pay it.
            raise InvalidTransition("the order was cancelled while the payment was opened")
        if prepay is not None:
            await ctx.session.execute(
                update(Payment)
                .where(Payment.id == attempt.payment_id, Payment.status == "pending")
                .values(
                    prepay_id=prepay.reference[:128],
                    prepay_expires_at=prepay.expires_at,
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            if prepay.settled is not None:
                await settle(ctx, attempt.payment_id, prepay.settled, actor=f"member:{member.id}")
        payment = await ctx.session.get(
            Payment, (tenant.id, attempt.payment_id), populate_existing=True
        )
        assert payment is not None  # step 1 made it; payments are never deleted
        await ctx.session.refresh(order)
        return payment, order


async def pay(
    rt: Runtime, tenant: TenantInfo, member: Principal, order_id: str, provider: str | None
) -> s.PayOut:
    """Open (or reuse) the order's payment and return what the app's payment sheet needs.

    Refused: 404 ``order.not_found`` (not this member's), 409 ``order.already_paid``,
    ``order.invalid_transition`` (cancelled), ``order.payment_expired`` (past the deadline),
    ``payment.not_configured`` (no account), 502 ``payment.provider_error``."""
    opened = await _open_attempt(rt, tenant, member, order_id, provider)
    if isinstance(opened, s.PayOut):
        return opened
    found, account, attempt = opened
    prepay = None
    if attempt.needs_prepay(utcnow()):
        request = PaymentRequest(
            out_trade_no=attempt.payment_id,
            amount=attempt.amount,
            description=attempt.description,
            payer_openid=attempt.openid,
            expires_at=attempt.expires_at,
            notify_url=notify_url(rt, tenant.slug, found.name),
        )
        prepay = await found.prepay(rt, account, request)
    payment, order = await _finish(rt, tenant, member, order_id, attempt, prepay)
    pending = payment.status == "pending"
    if not pending and payment.status != "succeeded":
        raise Conflict("this order's payment was closed", code="order.payment_expired")
    return s.PayOut(
        payment_id=payment.id,
        provider=payment.provider,
        amount=payment.amount,
        status="pending" if pending else "succeeded",
        order_status=order.status,
        params=found.client_params(account, payment.prepay_id) if pending else {},
    )
