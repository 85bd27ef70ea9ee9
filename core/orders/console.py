"""The orders pages of the merchant console: the list with its filters, an order with its
history, shipping and cancelling. Refunds are ``core.payments.console``'s.

Thin controllers over ``core.orders.service``, the functions the JSON API calls: every rule
(who may ship, which moves are allowed) is the service's; the pages only decide what to
offer."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Response, get, post
from litestar.params import FromPath, FromQuery

from core.api import AnyRequest, Ctx, Cursor, Limit
from core.console.forms import Form, read_form, read_query
from core.console.i18n import N_
from core.console.lists import paging
from core.console.web import page, redirect
from core.context import TenantContext
from core.errors import AppError
from core.orders import schemas as s
from core.orders import service
from core.orders.state import REFUND_REQUIRED, TRANSITIONS
from core.paging import DEFAULT_LIMIT
from core.payments import refund_views
from core.payments.refund_holds import HOLDABLE
from core.wechatpay_schemas import CHINA

OrderId = FromPath[str]
STATUS_LABELS = {
    "pending_payment": N_("Awaiting payment"),
    "paid": N_("Awaiting shipment"),
    "awaiting_pickup": N_("Awaiting pickup"),
    "shipped": N_("Shipped"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
    "refunded": N_("Refunded"),
}
REFUND_STATUS_LABELS = {
    "requested": N_("Waiting for you"),
    "rejected": N_("Rejected"),
    "withdrawn": N_("Withdrawn"),
    "processing": N_("Being paid back"),
    "succeeded": N_("Paid back"),
    "failed": N_("Failed"),
}
FULFILLMENT_LABELS = {"express": N_("Delivery"), "pickup": N_("Pickup")}
# What the order page says after a move (``?done=``).
DONE = {
    "shipped": N_("Shipped. The buyer can follow the parcel."),
    "cancelled": N_("The order is cancelled and its stock is back."),
    "refunded": N_("Refund made: the money is on its way back to the buyer."),
}
ERROR_TEXTS = {
    "order.fulfillment_held": N_(
        "A feature holds this order back (a group-buy team still forming)."
    ),
    "order.not_express": N_("Only delivery orders are shipped."),
    "order.invalid_transition": N_("The order has moved on; reload the page."),
    "order.refund_required": N_("This order is paid: refund it instead."),
}


class OrderFilters(msgspec.Struct, kw_only=True):
    """The list's filters, from the query string."""

    status: s.Status | None = None
    number: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    date_from: date | None = None  # China days, both included
    date_to: date | None = None


def china_day(day: date) -> datetime:
    """The start of a China calendar day."""
    return datetime.combine(day, time(), CHINA)


@get("/orders", include_in_schema=False)
async def order_list(
    request: AnyRequest, ctx: Ctx, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Response[str]:
    filters = read_query(request, OrderFilters)
    orders: list[s.OrderOut] = []
    next_cursor = None
    if filters.ok and filters.data is not None:
        wanted = filters.data
        found = await service.list_orders(
            ctx,
            limit,
            cursor,
            status=wanted.status,
            number=(wanted.number or "").strip() or None,
            member_phone=(wanted.phone or "").strip() or None,
            created_from=china_day(wanted.date_from) if wanted.date_from else None,
            created_to=china_day(wanted.date_to + timedelta(days=1)) if wanted.date_to else None,
        )
        orders, next_cursor = found.items, found.next_cursor
    return page(
        request,
        "orders/list.html",
        status=200 if filters.ok else 422,
        filters=filters,
        orders=orders,
        paging=paging(request, next_cursor),
        statuses=STATUS_LABELS,
        fulfillments=FULFILLMENT_LABELS,
    )


def offers(order: s.OrderOut) -> dict[str, bool]:
    """The moves the page offers (the service decides whether they are allowed)."""
    return {
        "ship": order.fulfillment == "express" and (order.status, "shipped") in TRANSITIONS,
        "cancel": (order.status, "cancelled") in TRANSITIONS
        and order.status not in REFUND_REQUIRED,
        "refund": order.status in HOLDABLE and order.paid_amount > order.refunded_amount,
    }


async def order_page(
    request: AnyRequest,
    ctx: TenantContext,
    order_id: str,
    *,
    status: int = 200,
    notice: str = "",
    **forms: Form[Any],
) -> Response[str]:
    """An order with its lines, history and refunds, and the forms of the moves it offers
    (``forms`` replaces one with the same form showing its errors)."""
    order = await service.merchant_order(ctx, order_id)
    refunds = await refund_views.list_refunds(ctx, 50, None, order_id=order.id)
    context: dict[str, Any] = {
        "notice": DONE.get(notice, ""),
        "order": order,
        "refunds": refunds.items,
        "offers": offers(order),
        "statuses": STATUS_LABELS,
        "refund_statuses": REFUND_STATUS_LABELS,
        "fulfillments": FULFILLMENT_LABELS,
        "ship_form": Form(values={}),
        "cancel_form": Form(values={}),
        "refund_form": Form(values={"mode": "whole"}),
        **forms,
    }
    return page(request, "orders/detail.html", status=status, **context)


@get("/orders/{order_id:str}", include_in_schema=False)
async def order_detail(
    request: AnyRequest, ctx: Ctx, order_id: OrderId, done: FromQuery[str] = ""
) -> Response[str]:
    return await order_page(request, ctx, order_id, notice=done)


@post("/orders/{order_id:str}/ship", include_in_schema=False)
async def ship_order(request: AnyRequest, ctx: Ctx, order_id: OrderId) -> Any:
    form = await read_form(request, s.ShipIn)
    status = 422
    if form.ok and form.data is not None:
        try:
            async with ctx.savepoint():
                await service.ship(ctx, order_id, form.data)
        except AppError as exc:
            status = form.refuse(exc, texts=ERROR_TEXTS)
        else:
            return redirect(request, f"orders/{order_id}?done=shipped")
    return await order_page(request, ctx, order_id, status=status, ship_form=form)


@post("/orders/{order_id:str}/cancel", include_in_schema=False)
async def cancel_order(request: AnyRequest, ctx: Ctx, order_id: OrderId) -> Any:
    form = await read_form(request, s.MerchantCancelIn)
    status = 422
    if form.ok and form.data is not None:
        try:
            async with ctx.savepoint():
                await service.merchant_cancel(ctx, order_id, form.data.reason)
        except AppError as exc:
            status = form.refuse(exc, texts=ERROR_TEXTS)
        else:
            return redirect(request, f"orders/{order_id}?done=cancelled")
    return await order_page(request, ctx, order_id, status=status, cancel_form=form)


CONSOLE_ROUTES = [order_list, order_detail, ship_order, cancel_order]
