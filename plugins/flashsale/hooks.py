"""The flash sale's cart and order hooks.

A line bought through ``flashsale:<activity>`` gets the flash price only when the buy route
reserved it: the route puts a ``Reservation`` in the request-local ``ctx.extras``, and
``load_cart_data`` matches it against the line (activity, SKU, quantity). Anything else with
that activity, a cart line or a plain ``POST /orders``, is refused by ``validate_cart_line``
with ``flashsale.buy_required``: nothing a client puts in a body buys at the flash price.

A reserved line's stock is the activity's (``stock_held_by = "flashsale"``): the core leaves
the SKU's stock alone, ``order_before_place`` takes the unit in the database, and
``order_cancelled`` gives it back exactly once (``db_stock.release``), then a job returns it
to Redis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.commerce import Adjustment, CartView, LineProblem, PricingLine
from core.context import TenantContext
from core.db import utcnow
from core.orders.models import Order
from core.payments.models import Refund
from plugins.flashsale import db_stock, errors
from plugins.flashsale.models import FlashActivity, FlashItem
from plugins.flashsale.preheat import settings_of
from plugins.flashsale.service import RELEASE_JOB, job_key

PLUGIN = "flashsale"
PREFIX = f"{PLUGIN}:"
EXTRA = PLUGIN  # ctx.extras key of the buy route's Reservation
LABEL = "秒杀价"


@dataclass(frozen=True)
class Reservation:
    """What the buy route took for this request (in Redis, or nothing yet in the
    database-only mode); ``token`` ties it to the member and the Idempotency-Key."""

    activity_id: str
    sku_id: str
    quantity: int
    token: str


@dataclass
class Offer:
    activity: FlashActivity
    item: FlashItem


@dataclass
class FlashCartData:
    """``cart.plugin_data["flashsale"]``: the reserved lines by key."""

    offers: dict[str, Offer] = field(default_factory=dict)


def _matches(reservation: object, line: PricingLine) -> bool:
    return (
        isinstance(reservation, Reservation)
        and line.activity == PREFIX + reservation.activity_id
        and line.sku_id == reservation.sku_id
        and line.quantity == reservation.quantity
    )


async def load_cart_data(ctx: TenantContext, cart: CartView) -> None:
    data = FlashCartData()
    cart.plugin_data[PLUGIN] = data
    reservation = ctx.extras.get(EXTRA)
    for line in cart.lines:
        if not line.activity.startswith(PREFIX) or not _matches(reservation, line):
            continue
        assert isinstance(reservation, Reservation)
        activity, item = await db_stock.offer(ctx.session, reservation.activity_id, line.sku_id)
        # The database decides the window too: Redis may not have heard of a cancel yet.
        verdict = db_stock.window_verdict(activity, utcnow())
        if verdict != "ok":
            raise errors.VERDICT_ERRORS[verdict]()
        if activity is None or item is None:
            raise errors.sku_not_in_activity()
        data.offers[line.key] = Offer(activity=activity, item=item)
        line.stock_held_by = PLUGIN
        line.level_discount = False  # the flash price does not stack with the level discount
        line.sellable = max(line.sellable, line.quantity)  # the activity holds the stock
        window = activity.payment_window_minutes or settings_of(ctx.tenant).payment_window_minutes
        shortest = cart.payment_window_minutes
        cart.payment_window_minutes = window if shortest is None else min(shortest, window)


def _data(cart: CartView) -> FlashCartData:
    data = cart.plugin_data.get(PLUGIN)
    return data if isinstance(data, FlashCartData) else FlashCartData()


def validate_cart_line(cart: CartView, line: PricingLine) -> list[LineProblem]:
    if not line.activity.startswith(PREFIX) or line.key in _data(cart).offers:
        return []
    return [
        LineProblem(
            line_key=line.key,
            code=errors.BUY_REQUIRED,
            message="flash sale prices are bought with the flash sale's buy button",
        )
    ]


def price_adjustments(stage: str, cart: CartView) -> list[Adjustment]:
    if stage != "line":
        return []
    offers = _data(cart).offers
    adjustments = []
    for line in cart.lines:
        offer = offers.get(line.key)
        if offer is None:
            continue
        # A SKU repriced below its flash price since the sale was set up sells at its price.
        off = (line.unit_price - offer.item.flash_price) * line.quantity
        if off > 0:
            adjustments.append(
                Adjustment(source=PLUGIN, label=LABEL, amount=-off, stage="line", line_key=line.key)
            )
    return adjustments


async def order_before_place(ctx: TenantContext, cart: CartView, order: Order) -> None:
    offers = _data(cart).offers
    reservation = ctx.extras.get(EXTRA)
    for line in cart.lines:
        offer = offers.get(line.key)
        if offer is None or not isinstance(reservation, Reservation):
            continue
        # Last in the transaction: the item's row lock is held only until the commit.
        await db_stock.take_units(ctx, offer.activity, offer.item, order.member_id, line.quantity)
        await db_stock.hold(
            ctx,
            offer.activity,
            offer.item,
            member_id=order.member_id,
            order_id=order.id,
            quantity=line.quantity,
            token=reservation.token,
        )


async def order_cancelled(ctx: TenantContext, order: Order, reason: str) -> None:
    released = await db_stock.release(ctx, order.id)
    if released is not None and released.live:
        args = {"tenant_id": ctx.tenant_id, "activity_id": released.activity_id}
        await ctx.jobs.enqueue(
            RELEASE_JOB,
            key=job_key(RELEASE_JOB, ctx.tenant_id, released.token),
            token=released.token,
            **args,
        )


async def order_paid(ctx: TenantContext, order: Order) -> None:
    await db_stock.mark_paid(ctx, order.id)


async def refund_succeeded(ctx: TenantContext, refund: Refund, order: Order) -> None:
    await db_stock.refund(ctx, refund, order)
