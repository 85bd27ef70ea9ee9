"""Applying the provider's word on a refund (its answer to the submit job, a query, a
notification): ``processing → succeeded`` counts the money and units as refunded, returns
stock, fires ``refund_succeeded`` and moves an order refunded in full to ``refunded``;
``processing → failed`` gives the hold back. Each is one transaction, and a repeat changes
nothing: the refund's own status moves first by a conditional UPDATE.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from core.context import TenantContext, TenantInfo
from core.db import utcnow
from core.errors import Conflict
from core.orders.models import Order
from core.orders.state import transition
from core.payments import refund_holds as holds
from core.payments.models import Refund
from core.payments.providers import RefundResult
from core.payments.refund_views import is_id
from core.plugins import call_acting

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("storeplug.refunds")

# Orders the whole refund of moves to ``refunded``.
REFUNDABLE = frozenset({"paid", "awaiting_pickup", "shipped", "completed"})


async def apply_refund_result(
    rt: Runtime, tenant: TenantInfo, result: RefundResult, *, actor: str
) -> bool:
    """Apply the provider's word on a refund (its answer, a query, a notification) in one
    transaction. ``processing → succeeded`` counts the money and units as refunded, restocks,
    fires ``refund_succeeded``, and moves an order refunded in full to ``refunded``;
    ``processing → failed`` gives the hold back. True when it changed the refund; a repeat, or
    a refund that is not this tenant's, is False and changes nothing."""
    async with rt.tenant_context(tenant) as ctx:
        return await apply_in(ctx, result, actor=actor)


async def apply_in(ctx: TenantContext, result: RefundResult, *, actor: str) -> bool:
    """``apply_refund_result`` in the caller's transaction."""
    refund = None
    if is_id(result.out_refund_no):
        refund = await ctx.session.get(Refund, (ctx.tenant_id, result.out_refund_no))
    if refund is None:
        log.warning("refund result for unknown refund %r", result.out_refund_no)
        return False
    seen = {
        "provider_refund_id": holds.clip(
            result.provider_refund_id or refund.provider_refund_id, 64
        ),
        "provider_status": holds.clip(result.provider_state or result.state, 32),
        "checked_at": utcnow(),
    }
    if refund.status != "processing":
        return False  # a repeat: the refund is settled
    if result.state == "processing":
        await ctx.session.execute(
            update(Refund)
            .where(Refund.id == refund.id, Refund.status == "processing")
            .values(**seen)
            .execution_options(synchronize_session=False)
        )
        return False
    if result.state == "failed":
        try:
            moved = await holds.move(ctx, refund, "processing", "failed", **seen)
        except holds.StateChanged:
            return False
        await holds.release(ctx, moved)
        return True
    if result.amount is not None and result.amount != refund.amount:
        raise Conflict(
            f"the provider refunded {result.amount} fen, not {refund.amount}",
            code="refund.amount_mismatch",
        )
    try:
        moved = await holds.move(
            ctx, refund, "processing", "succeeded", succeeded_at=utcnow(), **seen
        )
    except holds.StateChanged:
        return False
    await _succeed(ctx, moved, actor)
    return True


async def _succeed(ctx: TenantContext, refund: Refund, actor: str) -> None:
    order = await holds.lock_order(ctx, refund.order_id)
    lines = await holds.fresh_lines(ctx, order.id)
    units = await holds.units_of(ctx, refund, order, lines)
    refunded = await ctx.session.scalar(
        update(Order)
        .where(Order.id == order.id, Order.refunded_amount + refund.amount <= Order.refund_held)
        .values(refunded_amount=Order.refunded_amount + refund.amount, updated_at=utcnow())
        .returning(Order.refunded_amount)
        .execution_options(synchronize_session=False)
    )
    if refunded is None:
        raise RuntimeError(f"refund {refund.id} would refund more than order {order.id} holds")
    set_committed_value(order, "refunded_amount", refunded)
    await holds.add_to_lines(ctx, lines, units, refunded=True)
    if refund.restock and order.status != "cancelled":
        await holds.restock(ctx, refund, lines, units)
    await call_acting(ctx.hooks.refund_succeeded(ctx=ctx, refund=refund, order=order))
    if order.refunded_amount >= order.paid_amount and order.status in REFUNDABLE:
        await transition(ctx, order, "refunded", actor=actor, reason=f"refund {refund.id}")
