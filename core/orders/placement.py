"""Placing an order: one transaction from the lines to a reserved, priced, written order.

build the view → validate and price (the first problem refuses, with its own code) → reserve
stock (one conditional UPDATE per SKU, in SKU order so two placements never deadlock; not
enough left is 409 ``order.insufficient_stock``) → write the order
and its line snapshots → ``order_before_place`` → ``order_placed`` → remove the ordered cart
lines → start the payment timer (enqueued only once this transaction has committed).

Any refusal raises, and the caller's transaction rolls back all of it, stock included.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.cart import service as cart
from core.cart.pricing import build_view, price, problem_error
from core.cart.schemas import LineInput, PricedCart
from core.commerce import CartView
from core.context import TenantContext
from core.db import new_id, utcnow
from core.errors import Conflict, FieldError, Invalid, NotFound, Unauthorized
from core.inventory import service as inventory
from core.members.models import Address
from core.orders import schemas as s
from core.orders.jobs import EXPIRE_JOB, expire_key
from core.orders.models import Order, OrderEvent, OrderLine
from core.orders.service import detail
from core.plugins import call_acting
from core.store.service import get_settings

# Order numbers carry the date in China Standard Time (no daylight saving), as buyers see it.
CST = timezone(timedelta(hours=8))
NUMBER_ATTEMPTS = 5
DEFAULT_FULFILLMENT = "express"


def new_number(now: datetime | None = None) -> str:
    """``yyyymmdd`` + 12 random digits: unique per tenant (the constraint decides, a clash is
    retried) and not guessable from a neighbour's number."""
    day = (now or utcnow()).astimezone(CST).strftime("%Y%m%d")
    return f"{day}{secrets.randbelow(10**12):012d}"


def _member_id(ctx: TenantContext) -> str:
    if ctx.principal is None or ctx.principal.kind != "member":
        raise Unauthorized("sign in first", code="auth.required")
    return ctx.principal.id


def _direct_inputs(items: list[s.OrderItemIn]) -> list[LineInput]:
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        if (item.sku_id, item.activity) in seen:
            raise Invalid(
                "the same SKU is listed twice; order it once with the total quantity",
                code="order.duplicate_item",
                errors=[FieldError(field=f"items[{index}].sku_id", message="listed twice")],
            )
        seen.add((item.sku_id, item.activity))
    single = len(items) == 1
    return [
        LineInput(
            key="direct" if single else f"direct:{i}",
            sku_id=item.sku_id,
            quantity=item.quantity,
            activity=item.activity,
        )
        for i, item in enumerate(items)
    ]


async def _inputs(
    ctx: TenantContext, member_id: str, data: s.PlaceOrderIn
) -> tuple[list[LineInput], list[str]]:
    """The lines to price, and the ids of the cart lines they came from (removed once the
    order is placed)."""
    if data.from_cart == (data.items is not None):
        raise Invalid(
            "give either from_cart: true or items, not both and not neither",
            code="order.invalid_source",
            errors=[FieldError(field="items", message="either from_cart or items")],
        )
    if data.line_ids is not None and not data.from_cart:
        raise Invalid(
            "line_ids go with from_cart: true",
            code="order.invalid_source",
            errors=[FieldError(field="line_ids", message="only with from_cart")],
        )
    if data.items is not None:
        for item in data.items:
            cart.check_activity(ctx.tenant, item.activity)
        return _direct_inputs(data.items), []
    rows = await cart.lines_for_checkout(ctx, member_id, data.line_ids)
    return cart.inputs_of(rows), [row.id for row in rows]


async def _fulfillment_data(
    ctx: TenantContext, member_id: str, method: str, given: dict[str, Any]
) -> dict[str, Any]:
    """What the order keeps about delivery. For express: a snapshot of the member's own
    address, so editing or deleting the address later does not move the parcel."""
    if method != "express":
        return dict(given)
    address_id = given.get("address_id")
    if not isinstance(address_id, str) or not address_id:
        raise Invalid(
            "express delivery needs fulfillment_data.address_id",
            code="order.address_required",
            errors=[FieldError(field="fulfillment_data.address_id", message="required")],
        )
    address = None
    if len(address_id) <= 26:
        address = await ctx.session.scalar(
            select(Address).where(Address.id == address_id, Address.member_id == member_id)
        )
    if address is None:
        raise NotFound("no such address", code="address.not_found")
    return {
        "address_id": address.id,
        "name": address.name,
        "phone": address.phone,
        "province": address.province,
        "city": address.city,
        "district": address.district,
        "detail": address.detail,
    }


async def _reserve(ctx: TenantContext, view: CartView, order_id: str) -> None:
    per_sku: dict[str, int] = defaultdict(int)
    for line in view.lines:
        if not line.stock_held_by:  # else the plugin holding it reserves it
            per_sku[line.sku_id] += line.quantity
    for sku_id in sorted(per_sku):
        try:
            await inventory.reserve(ctx, sku_id, per_sku[sku_id], ref=order_id)
        except inventory.InsufficientStock:
            raise Conflict(
                "not enough stock left for this order", code="order.insufficient_stock"
            ) from None


async def write_order(
    ctx: TenantContext, order: Order, numbers: Callable[[], str] = new_number
) -> None:
    """Insert the order under a fresh number, retrying the rare clash of two numbers. Each
    try is a savepoint: on PostgreSQL a failed INSERT would otherwise abort the transaction,
    stock reservations included."""
    for attempt in range(NUMBER_ATTEMPTS):
        order.number = numbers()
        try:
            async with ctx.session.begin_nested():
                ctx.session.add(order)
        except IntegrityError:
            if attempt == NUMBER_ATTEMPTS - 1:
                raise
            continue
        return


def _order_lines(order_id: str, view: CartView, priced: PricedCart) -> list[OrderLine]:
    held_by = {line.key: line.stock_held_by for line in view.lines}
    return [
        OrderLine(
            order_id=order_id,
            sku_id=line.sku_id,
            product_id=line.product_id,
            title=line.title,
            sku_label=line.sku_label,
            image=line.image,
            unit_price=line.line_stage_total // line.quantity,
            quantity=line.quantity,
            line_total=line.total,
            adjustments=msgspec.to_builtins(line.adjustments),
            activity=line.activity,
            stock_held_by=held_by.get(line.key, ""),
        )
        for line in priced.lines
    ]


async def place_order(ctx: TenantContext, data: s.PlaceOrderIn) -> s.OrderOut:
    member_id = _member_id(ctx)
    inputs, cart_line_ids = await _inputs(ctx, member_id, data)
    view = await build_view(
        ctx,
        member_id,
        inputs,
        fulfillment=data.fulfillment,
        fulfillment_data=dict(data.fulfillment_data),
        options=dict(data.options),
    )
    # A buyer who chose no method gets the one a plugin chose in load_cart_data (a bound
    # buyer's leader point), else express.
    if view.fulfillment is None:
        view.fulfillment = DEFAULT_FULFILLMENT
    fulfillment = view.fulfillment
    # price() validates too, and adds the cart-wide problems (an unavailable fulfillment);
    # the first problem refuses the order with its own code.
    priced = price(ctx.hooks, view)
    if priced.problems:
        raise problem_error(priced.problems[0])
    fulfillment_data = await _fulfillment_data(ctx, member_id, fulfillment, view.fulfillment_data)

    order_id = new_id()
    await _reserve(ctx, view, order_id)

    settings = await get_settings(ctx)
    now = utcnow()
    minutes = settings.payment_window_minutes
    if view.payment_window_minutes is not None:
        minutes = max(1, min(minutes, view.payment_window_minutes))
    window = timedelta(minutes=minutes)
    order = Order(
        id=order_id,
        member_id=member_id,
        status="pending_payment",
        items_total=priced.items_total,
        discount_total=priced.discount_total,
        shipping_fee=priced.shipping_fee,
        payable=priced.payable,
        fulfillment=fulfillment,
        fulfillment_data=fulfillment_data,
        adjustments=msgspec.to_builtins(priced.adjustments),
        note=data.note,
        payment_deadline=now + window,
        created_at=now,
        updated_at=now,
    )
    await write_order(ctx, order)
    lines = _order_lines(order_id, view, priced)
    ctx.session.add_all(lines)
    ctx.session.add(
        OrderEvent(
            order_id=order_id,
            from_status="",
            to_status="pending_payment",
            actor=f"member:{member_id}",
            reason="placed",
            created_at=now,
        )
    )
    await ctx.session.flush()

    await call_acting(ctx.hooks.order_before_place(ctx=ctx, cart=view, order=order))
    await call_acting(ctx.hooks.order_placed(ctx=ctx, order=order))

    await cart.remove_lines(ctx, member_id, cart_line_ids)
    await ctx.jobs.enqueue_in(
        window.total_seconds(),
        EXPIRE_JOB,
        key=expire_key(ctx.tenant_id, order_id),
        tenant_id=ctx.tenant_id,
        order_id=order_id,
    )
    return await detail(ctx, order)
