"""Refunds and after-sales: creating refunds (a member's request, a merchant's or a plugin's
direct refund, the refund of a late payment) and the moves people make on them.

What a refund is worth is in ``refund_rules``; how it holds money and units on the order, and
why that never exceeds what was paid, in ``refund_holds``; applying the provider's word in
``refund_results`` (``apply_refund_result`` is re-exported here). The provider is called by
jobs (``refund_jobs``), never here: a refund that becomes ``processing`` enqueues
``refunds.submit`` once its transaction has committed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from core.auth import require_staff
from core.context import TenantContext
from core.db import utcnow
from core.errors import AppError, Conflict
from core.orders.models import Order, OrderLine
from core.orders.service import actor_of, get_order
from core.payments import notices
from core.payments import refund_holds as holds
from core.payments import refund_rules as rules
from core.payments import refund_schemas as s
from core.payments.models import Payment, Refund
from core.payments.refund_results import apply_in, apply_refund_result
from core.payments.refund_views import find_refund, merchant_refund_out
from core.store.service import get_settings

__all__ = [
    "apply_in",
    "apply_refund_result",
    "approve",
    "direct_refund",
    "quote_refund",
    "refund_late_payment",
    "refund_order",
    "reject",
    "request_refund",
    "withdraw",
]

SUBMIT_JOB = "refunds.submit"
LATE_PAYMENT_REASON = "paid after the order was cancelled"
# A member may ask while the goods are on their way or, within the after-sales window, after.
MEMBER_STATES = frozenset({"paid", "awaiting_pickup", "shipped", "completed"})
# A merchant may also give back the money of a cancelled order that was paid late.
MERCHANT_STATES = holds.HOLDABLE


class NotAllowed(Conflict):
    code = "refund.not_allowed"


def submit_key(tenant_id: str, refund_id: str) -> str:
    """The job key of one refund's submission: enqueueing it twice is a no-op."""
    return f"refunds.submit:{tenant_id}:{refund_id}"


# ---- creating -------------------------------------------------------------------------------


async def _payment_of(ctx: TenantContext, order: Order) -> Payment:
    """The payment that paid the order (a late payment has its own refund)."""
    payment = await ctx.session.scalar(
        select(Payment)
        .where(Payment.order_id == order.id, Payment.status == "succeeded", Payment.late.is_(False))
        .order_by(Payment.paid_at, Payment.id)
        .limit(1)
    )
    if payment is None:
        raise Conflict("this order has no payment to refund", code="refund.no_payment")
    return payment


@dataclass(frozen=True)
class _Plan:
    """What a refund of an order would be: its amount, the units it takes back per line,
    the lines' entries, whether it is the whole order and returns the units' stock."""

    amount: int
    units: dict[str, int]
    entries: list[dict[str, Any]]
    whole: bool
    restock: bool


async def _plan(
    ctx: TenantContext, order: Order, lines: Sequence[OrderLine], ask: s.MerchantRefundIn
) -> _Plan:
    """Work out the refund ``ask`` makes of ``order`` (nothing is written): 409/422
    ``refund.*`` when it cannot be made."""
    entries: list[dict[str, Any]] = []
    whole = False
    if ask.lines is None:
        if ask.amount is not None and ask.amount > order.paid_amount:
            raise rules.AmountTooHigh(f"the order was paid {order.paid_amount} fen")
        rest = order.paid_amount - order.refund_held
        if rest <= 0:
            raise rules.exceeds_paid("everything paid for this order is refunded or held")
        # All that is left is the whole order, its units included; less is money back
        # without goods (no units held, no stock returned).
        whole = ask.amount is None or ask.amount == rest
        amount = rest if ask.amount is None else ask.amount
        units = holds.units_left(lines) if whole and order.status != "cancelled" else {}
    else:
        if order.status == "cancelled":
            raise NotAllowed("a cancelled order's late payment is refunded whole")
        units = rules.requested_units([(line.line_id, line.quantity) for line in ask.lines])
        worth = rules.worth_of_lines(
            await _facts(ctx, order.id, lines),
            order.adjustments,
            order.paid_amount,
            units,
            unshipped=order.status in rules.UNSHIPPED,
        )
        amount = rules.settle_amount(ask.amount, worth.total)
        entries = [
            {"line_id": line_id, "quantity": n, "amount": worth.per_line[line_id]}
            for line_id, n in units.items()
        ]
    restock = ask.restock if ask.restock is not None else order.status in rules.UNSHIPPED
    return _Plan(
        amount=amount, units=units, entries=entries, whole=whole, restock=restock and bool(units)
    )


async def _open_refund(
    ctx: TenantContext,
    order: Order,
    payment: Payment,
    *,
    ask: s.MerchantRefundIn,
    status: str,
    requested_by: str,
) -> Refund:
    """Hold and write one refund of the locked ``order``."""
    lines = await holds.fresh_lines(ctx, order.id)
    plan = await _plan(ctx, order, lines, ask)
    await holds.hold(ctx, order, lines, plan.amount, plan.units)
    now = utcnow()
    decided = status == "processing"
    refund = Refund(
        order_id=order.id,
        payment_id=payment.id,
        member_id=order.member_id,
        provider=payment.provider,
        amount=plan.amount,
        status=status,
        lines=plan.entries,
        whole_order=plan.whole,
        reason=holds.clip(ask.reason, 200),
        photos=list(ask.photos),
        requested_by=holds.clip(requested_by, 80),
        decided_by=holds.clip(requested_by, 80) if decided else "",
        decided_at=now if decided else None,
        restock=plan.restock,
        created_at=now,
        updated_at=now,
    )
    ctx.session.add(refund)
    await ctx.session.flush()
    if decided:
        await _enqueue_submit(ctx, refund)
    return refund


async def _facts(
    ctx: TenantContext, order_id: str, lines: Sequence[OrderLine]
) -> list[rules.LineFacts]:
    claimed: dict[str, int] = defaultdict(int)
    for refund in await holds.refunds_of(ctx, order_id, holds.HOLDING):
        for entry in refund.lines:
            claimed[str(entry["line_id"])] += int(entry["amount"])
    return [
        rules.LineFacts(
            id=line.id,
            quantity=line.quantity,
            line_total=line.line_total,
            held=line.refund_held_quantity,
            claimed=claimed[line.id],
        )
        for line in lines
    ]


async def _enqueue_submit(ctx: TenantContext, refund: Refund) -> None:
    await ctx.jobs.enqueue(
        SUBMIT_JOB,
        key=submit_key(ctx.tenant_id, refund.id),
        tenant_id=ctx.tenant_id,
        refund_id=refund.id,
    )


async def request_refund(ctx: TenantContext, order_id: str, data: s.RefundIn) -> Refund:
    """A member asks for money back for their own order (``requested``, amounts held)."""
    principal = ctx.principal
    member_id = principal.id if principal is not None and principal.kind == "member" else None
    if member_id is None:
        raise AppError("sign in first", code="auth.required", status=401)
    await get_order(ctx, order_id, member_id=member_id)  # 404 for anyone else's
    order = await holds.lock_order(ctx, order_id)
    if order.status not in MEMBER_STATES:
        raise NotAllowed(f"a {order.status} order cannot be refunded")
    if order.status == "completed":
        days = (await get_settings(ctx)).after_sales_days
        completed_at = order.completed_at or order.updated_at
        if (utcnow() - completed_at).total_seconds() > days * 86400:
            raise Conflict(
                f"the after-sales window closed {days} day(s) after the order completed",
                code="refund.window_closed",
            )
    if await holds.refunds_of(ctx, order.id, ("requested",)):
        raise Conflict(
            "a refund of this order is already waiting for the store",
            code="refund.already_requested",
        )
    ask = s.MerchantRefundIn(
        reason=data.reason, lines=data.lines, amount=data.amount, photos=data.photos
    )
    return await _open_refund(
        ctx,
        order,
        await _payment_of(ctx, order),
        ask=ask,
        status="requested",
        requested_by=actor_of(principal),
    )


async def refund_order(
    ctx: TenantContext,
    order: Order,
    *,
    reason: str,
    actor: str,
    amount: int | None = None,
    lines: Sequence[s.RefundLineIn] | None = None,
    restock: bool | None = None,
    photos: Sequence[str] = (),
) -> Refund:
    """Refund ``order`` now, wholly (``lines`` None) or for some units of some lines, for
    ``amount`` fen or all they are worth; the refund starts ``processing`` and is sent to the
    provider once the transaction commits. For a merchant's direct refund and for plugins (a
    group-buy refunding a failed team). ``restock`` None returns the stock of an order that
    has not shipped. Raises 409/422 ``refund.*`` like the HTTP API."""
    locked = await holds.lock_order(ctx, order.id)
    if locked.status not in MERCHANT_STATES:
        raise NotAllowed(f"a {locked.status} order cannot be refunded")
    ask = s.MerchantRefundIn(
        reason=reason,
        lines=list(lines) if lines is not None else None,
        amount=amount,
        restock=restock,
        photos=list(photos),
    )
    if locked.status == "cancelled":
        payment = await ctx.session.scalar(
            select(Payment)
            .where(Payment.order_id == order.id, Payment.status == "succeeded")
            .order_by(Payment.paid_at, Payment.id)
            .limit(1)
        )
        if payment is None:
            raise Conflict("this order has no payment to refund", code="refund.no_payment")
    else:
        payment = await _payment_of(ctx, locked)
    return await _open_refund(
        ctx, locked, payment, ask=ask, status="processing", requested_by=actor
    )


async def direct_refund(
    ctx: TenantContext, order_id: str, data: s.MerchantRefundIn
) -> s.MerchantRefundOut:
    """The merchant refunds without a request (owner or manager)."""
    principal = require_staff(ctx, "manager")
    order = await get_order(ctx, order_id)
    refund = await refund_order(
        ctx,
        order,
        reason=data.reason,
        actor=actor_of(principal),
        amount=data.amount,
        lines=data.lines,
        restock=data.restock,
        photos=data.photos,
    )
    return merchant_refund_out(refund)


async def quote_refund(
    ctx: TenantContext, order_id: str, data: s.MerchantRefundIn
) -> s.RefundQuoteOut:
    """What ``direct_refund`` with ``data`` would give back, without doing it (owner or
    manager): the amount and the units per line, or the same 409/422 it would answer. For a
    confirmation step; the refund itself checks everything again."""
    require_staff(ctx, "manager")
    order = await get_order(ctx, order_id)
    if order.status not in MERCHANT_STATES:
        raise NotAllowed(f"a {order.status} order cannot be refunded")
    plan = await _plan(ctx, order, await holds.fresh_lines(ctx, order.id), data)
    if order.refund_held + plan.amount > order.paid_amount:  # the hold's own condition
        raise rules.exceeds_paid()
    return s.RefundQuoteOut(
        order_id=order.id,
        amount=plan.amount,
        whole_order=plan.whole,
        lines=[s.RefundLineOut(**entry) for entry in plan.entries],
        restock=plan.restock,
    )


async def refund_late_payment(ctx: TenantContext, payment: Payment, order: Order) -> Refund:
    """Give back money that arrived for an order already cancelled, in the caller's
    transaction: ``order.paid_amount`` must already count the payment. The refund is whole,
    ``processing``, restocks nothing and moves no order state."""
    await ctx.session.flush()
    locked = await holds.lock_order(ctx, order.id)
    ask = s.MerchantRefundIn(
        reason=LATE_PAYMENT_REASON, amount=payment.paid_amount or payment.amount, restock=False
    )
    return await _open_refund(
        ctx, locked, payment, ask=ask, status="processing", requested_by="job:late_payment"
    )


# ---- moves people make ---------------------------------------------------------------------


async def approve(
    ctx: TenantContext, refund_id: str, data: s.ApproveIn | None
) -> s.MerchantRefundOut:
    """``requested → processing``: the money goes back (owner or manager)."""
    principal = require_staff(ctx, "manager")
    refund = await find_refund(ctx, refund_id)
    restock = data.restock if data is not None else None
    if restock is None:
        order = await get_order(ctx, refund.order_id)
        restock = order.status in rules.UNSHIPPED
    moved = await holds.move(
        ctx,
        refund,
        "requested",
        "processing",
        decided_by=actor_of(principal),
        decided_at=utcnow(),
        restock=restock and (refund.whole_order or bool(refund.lines)),  # goods to return
    )
    await _enqueue_submit(ctx, moved)
    return merchant_refund_out(moved)


async def reject(ctx: TenantContext, refund_id: str, data: s.RejectIn) -> s.MerchantRefundOut:
    """``requested → rejected``: the held amount goes back to the order (owner or manager)."""
    principal = require_staff(ctx, "manager")
    refund = await find_refund(ctx, refund_id)
    moved = await holds.move(
        ctx,
        refund,
        "requested",
        "rejected",
        decided_by=actor_of(principal),
        decided_at=utcnow(),
        reject_reason=holds.clip(data.reason, 200),
    )
    await holds.release(ctx, moved)
    await notices.notify_refused(ctx, moved)
    return merchant_refund_out(moved)


async def withdraw(ctx: TenantContext, refund_id: str) -> Refund:
    """``requested → withdrawn`` by the member who asked."""
    principal = ctx.principal
    member_id = principal.id if principal is not None and principal.kind == "member" else ""
    refund = await find_refund(ctx, refund_id, member_id=member_id)
    moved = await holds.move(ctx, refund, "requested", "withdrawn")
    await holds.release(ctx, moved)
    return moved
