"""The holds refunds keep on an order, and the other row-level steps of a refund: locking the
order, moving a refund's status, giving stock back.

Creating a refund raises ``orders.refund_held`` (and, for lines,
``order_lines.refund_held_quantity``) with one conditional UPDATE each
(``WHERE refund_held + :amount <= paid_amount``): when two refunds race, the database lets only
what was paid through, and the loser gets 409 ``refund.exceeds_paid``. A refund that ends
without money moving (rejected, withdrawn, failed) gives its hold back the same way, exactly
once, because its own status moves first by a conditional UPDATE
(``WHERE id = :id AND status = :from``) that only one transaction wins.

Every path that changes an order's holds takes the order's row lock first (``FOR UPDATE``;
SQLite serialises writers anyway), then the lines in id order, so the amount rules read a
consistent order and two refunds never deadlock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from core.context import TenantContext
from core.db import utcnow
from core.errors import AppError, Conflict
from core.inventory import service as inventory
from core.orders.models import Order, OrderLine
from core.payments import refund_rules as rules
from core.payments.models import Refund

# Refunds that hold their amount on the order; the first two are still open.
OPEN = ("requested", "processing")
HOLDING = (*OPEN, "succeeded")
# Orders a refund may hold money of (a cancelled one: a late payment).
HOLDABLE = frozenset({"paid", "awaiting_pickup", "shipped", "completed", "cancelled"})


class StateChanged(Conflict):
    code = "refund.state_changed"


def clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


# ---- reading under the order's lock --------------------------------------------------------


async def lock_order(ctx: TenantContext, order_id: str) -> Order:
    """The order, its row locked until the transaction ends, its attributes fresh."""
    order = await ctx.session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise AppError("no such order", code="order.not_found", status=404)
    return order


async def fresh_lines(ctx: TenantContext, order_id: str) -> list[OrderLine]:
    rows = await ctx.session.scalars(
        select(OrderLine)
        .where(OrderLine.order_id == order_id)
        .order_by(OrderLine.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def refunds_of(ctx: TenantContext, order_id: str, states: Sequence[str]) -> list[Refund]:
    rows = await ctx.session.scalars(
        select(Refund).where(Refund.order_id == order_id, Refund.status.in_(states))
    )
    return list(rows.all())


def line_units(refund: Refund) -> dict[str, int]:
    """Units a line refund names, by line id."""
    units: dict[str, int] = defaultdict(int)
    for entry in refund.lines:
        units[str(entry["line_id"])] += int(entry["quantity"])
    return dict(units)


async def units_of(
    ctx: TenantContext, refund: Refund, order: Order, lines: Sequence[OrderLine]
) -> dict[str, int]:
    """Units ``refund`` holds, by line. A whole-order refund names none: it held every unit
    and every fen left when it was made, so while it is open no other refund can be made;
    its units are therefore what is held and not yet refunded, less what the line refunds
    still open from before hold."""
    if not refund.whole_order:
        return line_units(refund)
    if order.status == "cancelled":
        return {}  # a late payment's refund: the goods were never sold
    others: dict[str, int] = defaultdict(int)
    for other in await refunds_of(ctx, order.id, OPEN):
        if other.id != refund.id:
            for line_id, quantity in line_units(other).items():
                others[line_id] += quantity
    units = {
        line.id: line.refund_held_quantity - line.refunded_quantity - others[line.id]
        for line in lines
    }
    return {line_id: n for line_id, n in units.items() if n > 0}


# ---- holds ----------------------------------------------------------------------------------


async def hold(
    ctx: TenantContext, order: Order, lines: Sequence[OrderLine], amount: int, units: dict[str, int]
) -> None:
    held = await ctx.session.scalar(
        update(Order)
        .where(
            Order.id == order.id,
            Order.refund_held + amount <= Order.paid_amount,
            Order.status.in_(HOLDABLE),
        )
        .values(refund_held=Order.refund_held + amount, updated_at=utcnow())
        .returning(Order.refund_held)
        .execution_options(synchronize_session=False)
    )
    if held is None:
        raise rules.exceeds_paid(
            f"{amount} fen more would refund more than the {order.paid_amount} fen paid"
        )
    set_committed_value(order, "refund_held", held)
    by_id = {line.id: line for line in lines}
    for line_id in sorted(units):
        quantity = units[line_id]
        taken = await ctx.session.scalar(
            update(OrderLine)
            .where(
                OrderLine.id == line_id,
                OrderLine.order_id == order.id,
                OrderLine.refund_held_quantity + quantity <= OrderLine.quantity,
            )
            .values(refund_held_quantity=OrderLine.refund_held_quantity + quantity)
            .returning(OrderLine.refund_held_quantity)
            .execution_options(synchronize_session=False)
        )
        if taken is None:
            raise rules.ExceedsQuantity(f"line {line_id} has fewer than {quantity} unit(s) left")
        set_committed_value(by_id[line_id], "refund_held_quantity", taken)


async def release(ctx: TenantContext, refund: Refund) -> None:
    """Give back what ``refund`` held; it has just left an open state."""
    order = await lock_order(ctx, refund.order_id)
    lines = await fresh_lines(ctx, order.id)
    units = await units_of(ctx, refund, order, lines)
    held = await ctx.session.scalar(
        update(Order)
        .where(Order.id == order.id, Order.refund_held - refund.amount >= Order.refunded_amount)
        .values(refund_held=Order.refund_held - refund.amount, updated_at=utcnow())
        .returning(Order.refund_held)
        .execution_options(synchronize_session=False)
    )
    if held is None:
        raise RuntimeError(f"refund {refund.id} releases more than order {order.id} holds")
    set_committed_value(order, "refund_held", held)
    await add_to_lines(ctx, lines, units, refunded=False)


async def add_to_lines(
    ctx: TenantContext, lines: Sequence[OrderLine], units: dict[str, int], *, refunded: bool
) -> None:
    """Line by line in id order: ``refunded_quantity += n`` for a success (never above the
    held units), else ``refund_held_quantity -= n`` for a release (never below the refunded
    units)."""
    held, done = OrderLine.refund_held_quantity, OrderLine.refunded_quantity
    for line in [line for line in lines if units.get(line.id, 0) > 0]:
        n = units[line.id]
        statement = (
            update(OrderLine)
            .where(OrderLine.id == line.id, done + n <= held)
            .values(refunded_quantity=done + n)
            .returning(done)
            if refunded
            else update(OrderLine)
            .where(OrderLine.id == line.id, held - n >= done)
            .values(refund_held_quantity=held - n)
            .returning(held)
        )
        value = await ctx.session.scalar(statement.execution_options(synchronize_session=False))
        if value is None:
            raise RuntimeError(f"line {line.id}: {n} unit(s) would break its refund holds")
        column = "refunded_quantity" if refunded else "refund_held_quantity"
        set_committed_value(line, column, value)


def units_left(lines: Sequence[OrderLine]) -> dict[str, int]:
    units = {line.id: line.quantity - line.refund_held_quantity for line in lines}
    return {line_id: n for line_id, n in units.items() if n > 0}


async def restock(
    ctx: TenantContext, refund: Refund, lines: Sequence[OrderLine], units: dict[str, int]
) -> None:
    """Stock back for the refunded units the core reserved, one release per SKU in SKU order
    (as placement reserves), so two transactions never deadlock."""
    per_sku: dict[str, int] = defaultdict(int)
    for line in lines:
        if not line.stock_held_by and units.get(line.id, 0) > 0:
            per_sku[line.sku_id] += units[line.id]
    for sku_id in sorted(per_sku):
        await inventory.release(
            ctx, sku_id, per_sku[sku_id], ref=refund.id, reason="refund_restock"
        )


# ---- a refund's status ----------------------------------------------------------------------


async def move(
    ctx: TenantContext, refund: Refund, source: str, target: str, **values: Any
) -> Refund:
    """``source → target`` by a conditional UPDATE; 409 ``refund.state_changed`` when another
    request moved the refund first."""
    moved = await ctx.session.scalar(
        update(Refund)
        .where(Refund.id == refund.id, Refund.status == source)
        .values(status=target, updated_at=utcnow(), **values)
        .returning(Refund.id)
        .execution_options(synchronize_session=False)
    )
    if moved is None:
        raise StateChanged(f"the refund is no longer {source}; it changed while this ran")
    fresh = await ctx.session.get(Refund, (ctx.tenant_id, refund.id), populate_existing=True)
    assert fresh is not None
    return fresh
