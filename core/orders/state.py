"""The order state machine: the one table of allowed transitions, and the one function that
moves an order.

Every move is a conditional UPDATE (``WHERE id = :id AND status = :from``): when two requests
race (two cancels, a cancel and a payment), the database lets exactly one of them through and
the other gets 409 ``order.state_changed``. The core's own effects of a transition (stock
released on a cancel, sales and the member's spend counted on a payment) run inside that same
transaction right after the UPDATE, so they happen exactly once; then an ``OrderEvent`` is
written and the matching acting hook fires, on the caller's session.

A plugin may hold an order back from fulfillment (``Order.fulfillment_hold``: a group-buy
team not yet formed). While it is held, ``paid → shipped | awaiting_pickup`` is refused with
409 ``order.fulfillment_held``, and the UPDATE itself requires no hold, so a hold set
concurrently is never skipped. The holder lifts it with ``release_fulfillment``, which fires
``order_released`` for a paid order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from core.catalog.models import Product
from core.context import TenantContext
from core.db import utcnow
from core.errors import AppError, Conflict
from core.inventory import service as inventory
from core.members.service import record_paid
from core.orders.models import Order, OrderEvent, OrderLine
from core.plugins import call_acting


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    hook: str | None  # the acting hook fired after the move (None: none yet)
    stamp: str | None  # the timestamp column set to now


# Every allowed move; anything else is refused with 409 ``order.invalid_transition``.
# The payments module moves an order whose whole paid amount was refunded to ``refunded``.
TRANSITIONS: dict[tuple[str, str], Transition] = {
    (t.source, t.target): t
    for t in (
        Transition("pending_payment", "paid", "order_paid", "paid_at"),
        Transition("pending_payment", "cancelled", "order_cancelled", "cancelled_at"),
        Transition("paid", "shipped", "order_fulfilled", "shipped_at"),
        Transition("paid", "awaiting_pickup", "order_fulfilled", None),
        Transition("shipped", "completed", "order_completed", "completed_at"),
        Transition("awaiting_pickup", "completed", "order_completed", "completed_at"),
        Transition("paid", "refunded", "order_refunded", None),
        Transition("awaiting_pickup", "refunded", "order_refunded", None),
        Transition("shipped", "refunded", "order_refunded", None),
        Transition("completed", "refunded", "order_refunded", None),
    )
}
# Paid orders, whose cancel needs a refund of the money first.
REFUND_REQUIRED = frozenset({"paid", "awaiting_pickup", "shipped"})
# The moves into fulfillment, refused while the order is held (``Order.fulfillment_hold``).
HELD_TARGETS = frozenset({"shipped", "awaiting_pickup"})


class InvalidTransition(Conflict):
    code = "order.invalid_transition"


class StateChanged(Conflict):
    code = "order.state_changed"


class FulfillmentHeld(Conflict):
    code = "order.fulfillment_held"

    def __init__(self, holder: str) -> None:
        super().__init__(f"the order is held by {holder} and cannot be fulfilled yet")
        self.holder = holder


def allowed(source: str, target: str) -> bool:
    return (source, target) in TRANSITIONS


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


async def order_lines(ctx: TenantContext, order_id: str) -> list[OrderLine]:
    rows = await ctx.session.scalars(
        select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)
    )
    return list(rows.all())


async def _release_stock(ctx: TenantContext, order: Order) -> None:
    """Give back what the order reserved: one conditional UPDATE and ledger row per SKU, in
    SKU order (the order placement reserves in, so two transactions never deadlock)."""
    per_sku: dict[str, int] = defaultdict(int)
    for line in await order_lines(ctx, order.id):
        if not line.stock_held_by:  # else the plugin holding it releases it
            per_sku[line.sku_id] += line.quantity - line.refunded_quantity
    for sku_id in sorted(per_sku):
        if per_sku[sku_id] > 0:
            await inventory.release(ctx, sku_id, per_sku[sku_id], ref=order.id)


async def _count_payment(ctx: TenantContext, order: Order) -> None:
    """Units sold per product, and the member's paid spend (which drives their level)."""
    per_product: dict[str, int] = defaultdict(int)
    for line in await order_lines(ctx, order.id):
        per_product[line.product_id] += line.quantity
    for product_id in sorted(per_product):
        await ctx.session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(sales=Product.sales + per_product[product_id])
            .execution_options(synchronize_session=False)
        )
    await record_paid(ctx, order.member_id, order.paid_amount)


# The core's own effects of reaching a state, run right after the conditional UPDATE.
EFFECTS: dict[str, Callable[[TenantContext, Order], Awaitable[None]]] = {
    "cancelled": _release_stock,
    "paid": _count_payment,
}


async def transition(
    ctx: TenantContext,
    order: Order,
    to_status: str,
    *,
    actor: str,
    reason: str = "",
    values: Mapping[str, Any] | None = None,
) -> None:
    """Move ``order`` to ``to_status`` or refuse with 409.

    ``values`` are further columns written by the same UPDATE (carrier and tracking number on
    shipping, the amount on payment). ``actor`` is ``member:<id>``, ``staff:<id>``,
    ``api_key:<id>`` or ``job:<name>``.
    """
    source = order.status
    move = TRANSITIONS.get((source, to_status))
    if move is None:
        raise InvalidTransition(f"an order cannot go from {source} to {to_status}")
    held = to_status in HELD_TARGETS
    if held and order.fulfillment_hold:
        raise FulfillmentHeld(order.fulfillment_hold)
    now = utcnow()
    changes: dict[str, Any] = {"status": to_status, "updated_at": now, **(values or {})}
    if move.stamp is not None:
        changes[move.stamp] = now
    if to_status == "cancelled":
        changes["cancel_reason"] = _clip(reason, 200)
    query = update(Order).where(Order.id == order.id, Order.status == source)
    if held:  # a hold set since this order was read stops the move too
        query = query.where(Order.fulfillment_hold == "")
    moved = await ctx.session.scalar(
        query.values(**changes).returning(Order.id).execution_options(synchronize_session=False)
    )
    if moved is None:
        if held:
            await _refuse_if_held(ctx, order, source)
        raise StateChanged(f"the order is no longer {source}; it changed while this request ran")
    for name, value in changes.items():
        set_committed_value(order, name, value)
    effect = EFFECTS.get(to_status)
    if effect is not None:
        await effect(ctx, order)
    ctx.session.add(
        OrderEvent(
            order_id=order.id,
            from_status=source,
            to_status=to_status,
            actor=_clip(actor, 80),
            reason=_clip(reason, 200),
            created_at=now,
        )
    )
    if move.hook == "order_cancelled":
        await call_acting(ctx.hooks.order_cancelled(ctx=ctx, order=order, reason=reason))
    elif move.hook is not None:
        await call_acting(getattr(ctx.hooks, move.hook)(ctx=ctx, order=order))


async def _refuse_if_held(ctx: TenantContext, order: Order, source: str) -> None:
    """After a refused move into fulfillment: say so if a hold, not a new status, stopped it."""
    row = (
        await ctx.session.execute(
            select(Order.status, Order.fulfillment_hold).where(Order.id == order.id)
        )
    ).one_or_none()
    if row is not None and row.status == source and row.fulfillment_hold:
        set_committed_value(order, "fulfillment_hold", row.fulfillment_hold)
        raise FulfillmentHeld(row.fulfillment_hold)


async def release_fulfillment(ctx: TenantContext, order: Order, holder: str) -> bool:
    """Lift ``holder``'s fulfillment hold on ``order``; True if it was lifted.

    One conditional UPDATE (``WHERE fulfillment_hold = :holder``), so releasing twice, or a
    hold that is not ``holder``'s, changes nothing and returns False. Once lifted an
    ``OrderEvent`` records it, and a ``paid`` order fires ``order_released`` on the caller's
    session (the pickup plugin issues its code then; an express order can be shipped).
    """
    if not holder:  # "" means "not held": nobody holds by that name
        return False
    now = utcnow()
    status = await ctx.session.scalar(
        update(Order)
        .where(Order.id == order.id, Order.fulfillment_hold == holder)
        .values(fulfillment_hold="", updated_at=now)
        .returning(Order.status)
        .execution_options(synchronize_session=False)
    )
    if status is None:
        return False
    # The status as the UPDATE saw it: the order may have moved since it was read.
    for name, value in (("fulfillment_hold", ""), ("updated_at", now), ("status", status)):
        set_committed_value(order, name, value)
    ctx.session.add(
        OrderEvent(
            order_id=order.id,
            from_status=status,
            to_status=status,
            actor=_clip(f"plugin:{holder}", 80),
            reason=_clip(f"released by {holder}", 200),
            created_at=now,
        )
    )
    if status == "paid":
        await call_acting(ctx.hooks.order_released(ctx=ctx, order=order))
    return True


async def mark_paid(ctx: TenantContext, order_id: str, amount: int, *, actor: str) -> Order:
    """``pending_payment → paid`` for a payment of ``amount`` fen (payments call this once the
    provider confirmed it). The amount must be the order's payable, else 409
    ``order.amount_mismatch``; an order that is no longer awaiting payment (cancelled by the
    timeout, already paid) is 409 ``order.invalid_transition``, and the caller decides
    (acknowledge a repeat, refund a late payment)."""
    order = await ctx.session.get(Order, (ctx.tenant_id, order_id))
    if order is None:
        raise AppError("no such order", code="order.not_found", status=404)
    if order.status == "pending_payment" and amount != order.payable:
        raise Conflict(
            f"paid {amount} fen but the order's payable is {order.payable} fen",
            code="order.amount_mismatch",
        )
    await transition(ctx, order, "paid", actor=actor, values={"paid_amount": amount})
    return order
