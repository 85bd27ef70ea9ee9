"""Orders after placement: reading them (buyer and merchant), and the moves people make
(the buyer cancels or confirms receipt, the merchant ships or cancels). Placing an order is in
``core.orders.placement``; the state machine in ``core.orders.state``."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Select, select

from core.auth import require_role
from core.context import Principal, TenantContext
from core.errors import AppError, Conflict, Unauthorized
from core.members.models import Member
from core.orders import schemas as s
from core.orders.models import Order, OrderEvent, OrderLine
from core.orders.state import REFUND_REQUIRED, InvalidTransition, transition
from core.paging import Page, decode_cursor, encode_cursor

_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


class OrderNotFound(AppError):
    status = 404
    code = "order.not_found"

    def __init__(self) -> None:
        super().__init__("no such order")


def actor_of(principal: Principal | None) -> str:
    if principal is None:
        raise Unauthorized("sign in first", code="auth.required")
    return f"{principal.kind}:{principal.id}"


def _member_id(ctx: TenantContext) -> str:
    if ctx.principal is None or ctx.principal.kind != "member":
        raise Unauthorized("sign in first", code="auth.required")
    return ctx.principal.id


# ---- output ------------------------------------------------------------------------------


def _adjustments(raw: Sequence[Any]) -> list[s.AdjustmentOut]:
    return msgspec.convert(list(raw), list[s.AdjustmentOut])


def line_out(line: OrderLine) -> s.OrderLineOut:
    return s.OrderLineOut(
        id=line.id,
        sku_id=line.sku_id,
        product_id=line.product_id,
        title=line.title,
        sku_label=line.sku_label,
        image=line.image,
        unit_price=line.unit_price,
        quantity=line.quantity,
        line_total=line.line_total,
        adjustments=_adjustments(line.adjustments),
        activity=line.activity,
        refunded_quantity=line.refunded_quantity,
    )


def _fields(order: Order, lines: Sequence[OrderLine]) -> dict[str, Any]:
    return {
        "id": order.id,
        "number": order.number,
        "member_id": order.member_id,
        "status": order.status,
        "items_total": order.items_total,
        "discount_total": order.discount_total,
        "shipping_fee": order.shipping_fee,
        "payable": order.payable,
        "paid_amount": order.paid_amount,
        "refunded_amount": order.refunded_amount,
        "fulfillment": order.fulfillment,
        "fulfillment_data": dict(order.fulfillment_data),
        "fulfillment_hold": order.fulfillment_hold,
        "adjustments": _adjustments(order.adjustments),
        "note": order.note,
        "payment_deadline": order.payment_deadline,
        "paid_at": order.paid_at,
        "shipped_at": order.shipped_at,
        "completed_at": order.completed_at,
        "cancelled_at": order.cancelled_at,
        "cancel_reason": order.cancel_reason,
        "carrier": order.carrier,
        "tracking_no": order.tracking_no,
        "created_at": order.created_at,
        "lines": [line_out(line) for line in lines],
    }


def order_out(order: Order, lines: Sequence[OrderLine]) -> s.OrderOut:
    return s.OrderOut(**_fields(order, lines))


async def _lines_of(ctx: TenantContext, order_ids: Sequence[str]) -> dict[str, list[OrderLine]]:
    by_order: dict[str, list[OrderLine]] = defaultdict(list)
    if order_ids:
        rows = await ctx.session.scalars(
            select(OrderLine).where(OrderLine.order_id.in_(order_ids)).order_by(OrderLine.id)
        )
        for line in rows:
            by_order[line.order_id].append(line)
    return by_order


async def detail(ctx: TenantContext, order: Order) -> s.OrderOut:
    lines = await _lines_of(ctx, [order.id])
    return order_out(order, lines[order.id])


async def merchant_detail(ctx: TenantContext, order: Order) -> s.MerchantOrderOut:
    lines = await _lines_of(ctx, [order.id])
    events = await ctx.session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
    )
    return s.MerchantOrderOut(
        **_fields(order, lines[order.id]),
        events=[
            s.OrderEventOut(
                from_status=e.from_status,
                to_status=e.to_status,
                actor=e.actor,
                reason=e.reason,
                created_at=e.created_at,
            )
            for e in events
        ],
    )


# ---- lookups -----------------------------------------------------------------------------


async def get_order(ctx: TenantContext, order_id: str, *, member_id: str | None = None) -> Order:
    """The order of this tenant (and of ``member_id`` when given), else 404: another
    member's or another store's order is indistinguishable from one that does not exist."""
    if not _ID.match(order_id):
        raise OrderNotFound
    order = await ctx.session.get(Order, (ctx.tenant_id, order_id))
    if order is None or (member_id is not None and order.member_id != member_id):
        raise OrderNotFound
    return order


def _newest_first(query: Select[Any], limit: int, cursor: str | None) -> Select[Any]:
    """Cursor paging, newest first: ids are ULIDs, so "older" is simply a smaller id."""
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(Order.id < after)
    return query.order_by(Order.id.desc()).limit(limit + 1)


async def _page(
    ctx: TenantContext, query: Select[Any], limit: int, cursor: str | None
) -> Page[s.OrderOut]:
    rows = list((await ctx.session.scalars(_newest_first(query, limit, cursor))).all())
    visible = rows[:limit]
    lines = await _lines_of(ctx, [o.id for o in visible])
    return Page(
        items=[order_out(o, lines[o.id]) for o in visible],
        next_cursor=encode_cursor(visible[-1].id) if len(rows) > limit else None,
    )


def _utc(value: datetime) -> datetime:
    """A time from a query string; one without a zone is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# ---- buyer ---------------------------------------------------------------------------------


async def list_member_orders(
    ctx: TenantContext, limit: int, cursor: str | None, status: str | None
) -> Page[s.OrderOut]:
    query = select(Order).where(Order.member_id == _member_id(ctx))
    if status:
        query = query.where(Order.status == status)
    return await _page(ctx, query, limit, cursor)


async def member_order(ctx: TenantContext, order_id: str) -> s.OrderOut:
    return await detail(ctx, await get_order(ctx, order_id, member_id=_member_id(ctx)))


async def member_cancel(ctx: TenantContext, order_id: str, reason: str) -> s.OrderOut:
    """The buyer may cancel an order until it is paid; after that it takes a refund."""
    order = await get_order(ctx, order_id, member_id=_member_id(ctx))
    if order.status in REFUND_REQUIRED:
        raise Conflict(
            "a paid order is cancelled by asking for a refund", code="order.refund_required"
        )
    await transition(
        ctx, order, "cancelled", actor=actor_of(ctx.principal), reason=reason or "buyer cancelled"
    )
    return await detail(ctx, order)


async def confirm_receipt(ctx: TenantContext, order_id: str) -> s.OrderOut:
    """``shipped → completed`` by the buyer (pickup orders are completed at the counter)."""
    order = await get_order(ctx, order_id, member_id=_member_id(ctx))
    if order.status != "shipped":
        raise InvalidTransition(
            f"only a shipped order can be confirmed as received; this one is {order.status}"
        )
    await transition(ctx, order, "completed", actor=actor_of(ctx.principal), reason="received")
    return await detail(ctx, order)


# ---- merchant ------------------------------------------------------------------------------


async def list_orders(
    ctx: TenantContext,
    limit: int,
    cursor: str | None,
    *,
    status: str | None = None,
    member_id: str | None = None,
    number: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    member_phone: str | None = None,
) -> Page[s.OrderOut]:
    """The store's orders, newest first; ``member_phone`` is the phone a member bound in
    the mini-program (exact)."""
    query = select(Order)
    if status:
        query = query.where(Order.status == status)
    if member_id:
        query = query.where(Order.member_id == member_id)
    if member_phone:
        query = query.where(
            Order.member_id.in_(select(Member.id).where(Member.phone == member_phone))
        )
    if number:
        query = query.where(Order.number == number)
    if created_from is not None:
        query = query.where(Order.created_at >= _utc(created_from))
    if created_to is not None:
        query = query.where(Order.created_at < _utc(created_to))
    return await _page(ctx, query, limit, cursor)


async def merchant_order(ctx: TenantContext, order_id: str) -> s.MerchantOrderOut:
    return await merchant_detail(ctx, await get_order(ctx, order_id))


async def ship(ctx: TenantContext, order_id: str, data: s.ShipIn) -> s.MerchantOrderOut:
    """``paid → shipped`` with the carrier and tracking number (express orders; clerk+)."""
    principal = ctx.principal
    require_role(principal.role if principal else "", "clerk")
    order = await get_order(ctx, order_id)
    if order.fulfillment != "express":
        raise Conflict(f"a {order.fulfillment} order is not shipped", code="order.not_express")
    await transition(
        ctx,
        order,
        "shipped",
        actor=actor_of(principal),
        values={"carrier": data.carrier, "tracking_no": data.tracking_no},
    )
    return await merchant_detail(ctx, order)


async def merchant_cancel(ctx: TenantContext, order_id: str, reason: str) -> s.MerchantOrderOut:
    """Cancel an unpaid order (manager+). A paid order needs its money back first: 409
    ``order.refund_required``; a whole refund moves it to ``refunded``."""
    principal = ctx.principal
    require_role(principal.role if principal else "", "manager")
    order = await get_order(ctx, order_id)
    if order.status in REFUND_REQUIRED:
        raise Conflict(
            "this order is paid: refund it instead (POST /orders/{id}/refunds)",
            code="order.refund_required",
        )
    await transition(ctx, order, "cancelled", actor=actor_of(principal), reason=reason)
    return await merchant_detail(ctx, order)
