"""The pickup plugin's cart and order hooks.

A cart chooses pickup with ``fulfillment: "pickup"`` and ``fulfillment_data: {"point_id",
"slot"}`` (the slot's UTC start as the slots route lists it). ``load_cart_data`` checks the
point and the slot once and keeps the verdict; the pure hooks read it: the option offered
(no fee), the merchant's pickup discount (fees stage), and a cart-wide problem with its own
code (``pickup.point_closed``, ``pickup.slot_full``, ...) so the refusal says why.

The place in the slot is taken for real in ``order_before_place`` by a conditional UPDATE, so
concurrent orders cannot overfill a slot even after the check above let them all through.

A paid order gets its code and moves to ``awaiting_pickup`` in ``order_paid``, unless another
plugin holds it back (``Order.fulfillment_hold``, a group-buy team not yet formed): then it
stays ``paid`` with no code until the hold is lifted, and ``order_released`` does it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.commerce import Adjustment, CartView, FulfillmentOption, LineProblem, PricingLine
from core.context import TenantContext
from core.db import utcnow
from core.orders.models import Order
from core.orders.placement import CST
from core.orders.state import transition
from plugins.pickup import codes, errors
from plugins.pickup.models import PickupOrder, PickupPoint, PickupSlot
from plugins.pickup.schemas import PickupSettings
from plugins.pickup.service import PLUGIN, booked_in, booking_days_of, settings_of
from plugins.pickup.slots import day_slots, is_bookable

METHOD = "pickup"
LABEL = "到店自提"
CART_WIDE = ""  # the line_key of a problem about the whole cart


@dataclass
class PickupCartData:
    """``cart.plugin_data["pickup"]``: the settings and, when pickup is chosen, the verdict."""

    settings: PickupSettings
    point: PickupPoint | None = None
    slot: datetime | None = None
    problem: str = ""  # a problem code, "" when the choice is fine
    message: str = ""


def _data(cart: CartView) -> PickupCartData | None:
    data = cart.plugin_data.get(PLUGIN)
    return data if isinstance(data, PickupCartData) else None


def _parse_slot(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        slot = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return slot if slot.tzinfo is not None else None


async def _judge(ctx: TenantContext, cart: CartView, data: PickupCartData) -> None:
    def refuse(code: str, message: str) -> None:
        data.problem, data.message = code, message

    point_id = cart.fulfillment_data.get("point_id")
    slot = _parse_slot(cart.fulfillment_data.get("slot"))
    if not isinstance(point_id, str) or not point_id or len(point_id) > 26 or slot is None:
        return refuse(errors.POINT_REQUIRED, "choose a pickup point and a slot")
    point = await ctx.session.get(PickupPoint, (ctx.tenant_id, point_id))
    if point is None:
        return refuse(errors.UNKNOWN_POINT, "no such pickup point")
    data.point, data.slot = point, slot
    if point.status != "active":
        return refuse(errors.POINT_CLOSED, "this pickup point is closed")
    now = utcnow()
    days = booking_days_of(data.settings, point)
    if not is_bookable(slot, now, days, point.hours, point.holidays, point.slot_minutes):
        local_day = slot.astimezone(CST).date()
        open_that_day = any(day_slots(local_day, point.hours, point.holidays, point.slot_minutes))
        if not open_that_day:
            return refuse(errors.POINT_CLOSED, "the pickup point is closed on that day")
        return refuse(errors.SLOT_UNAVAILABLE, "this pickup slot cannot be booked")
    if point.capacity is not None:
        booked = (await booked_in(ctx, point.id, [slot])).get(slot, 0)
        if booked >= point.capacity:
            return refuse(errors.SLOT_FULL, "this pickup slot is full; choose another")
    return None


async def load_cart_data(ctx: TenantContext, cart: CartView) -> None:
    data = PickupCartData(settings=settings_of(ctx.tenant))
    if cart.fulfillment == METHOD:
        await _judge(ctx, cart, data)
    cart.plugin_data[PLUGIN] = data


def validate_cart_line(cart: CartView, line: PricingLine) -> list[LineProblem]:
    data = _data(cart)
    # Reported once, with the first line, as a problem of the whole cart.
    if data is None or not data.problem or cart.fulfillment != METHOD:
        return []
    if not cart.lines or cart.lines[0].key != line.key:
        return []
    return [LineProblem(line_key=CART_WIDE, code=data.problem, message=data.message)]


def fulfillment_options(cart: CartView) -> list[FulfillmentOption]:
    data = _data(cart)
    if data is None:
        return []
    chosen = cart.fulfillment == METHOD
    return [
        FulfillmentOption(
            method=METHOD,
            label=LABEL,
            fee=0,
            available=not (chosen and data.problem),
            reason=data.message if chosen else "",
        )
    ]


def price_adjustments(stage: str, cart: CartView) -> list[Adjustment]:
    data = _data(cart)
    if stage != "fees" or data is None or cart.fulfillment != METHOD or data.problem:
        return []
    settings = data.settings
    if settings.discount_kind == "amount":
        off = settings.discount_value
    elif settings.discount_kind == "percent":
        off = max(cart.total_after("points"), 0) * settings.discount_value // 100
    else:
        off = 0
    if off <= 0:
        return []
    return [Adjustment(source=PLUGIN, label=settings.discount_label, amount=-off, stage="fees")]


async def _take_place(ctx: TenantContext, point: PickupPoint, slot: datetime) -> None:
    """One more order in the slot, or 409 ``pickup.slot_full``."""
    exists = await ctx.session.scalar(
        select(PickupSlot.id).where(PickupSlot.point_id == point.id, PickupSlot.starts_at == slot)
    )
    if exists is None:
        try:  # a savepoint: a concurrent first booking may insert the same row
            async with ctx.session.begin_nested():
                ctx.session.add(PickupSlot(point_id=point.id, starts_at=slot, booked=0))
        except IntegrityError:
            pass
    query = update(PickupSlot).where(PickupSlot.point_id == point.id, PickupSlot.starts_at == slot)
    if point.capacity is not None:
        query = query.where(PickupSlot.booked < point.capacity)
    taken = await ctx.session.scalar(
        query.values(booked=PickupSlot.booked + 1)
        .returning(PickupSlot.id)
        .execution_options(synchronize_session=False)
    )
    if taken is None:
        raise errors.slot_full()


async def order_before_place(ctx: TenantContext, cart: CartView, order: Order) -> None:
    data = _data(cart)
    if order.fulfillment != METHOD or data is None:
        return
    if data.problem or data.point is None or data.slot is None:  # price() refused already
        raise errors.point_not_found()
    point, slot = data.point, data.slot
    await _take_place(ctx, point, slot)
    # What the order keeps: the point as it is now, and the slot (UTC).
    order.fulfillment_data = {
        "point_id": point.id,
        "point_name": point.name,
        "address": point.address,
        "phone": point.phone,
        "slot": slot.astimezone(CST).isoformat(),
    }
    ctx.session.add(
        PickupOrder(
            order_id=order.id, member_id=order.member_id, point_id=point.id, slot_starts_at=slot
        )
    )


async def _pickup_of(ctx: TenantContext, order: Order) -> PickupOrder | None:
    if order.fulfillment != METHOD:
        return None
    return await ctx.session.scalar(select(PickupOrder).where(PickupOrder.order_id == order.id))


async def _ready(ctx: TenantContext, order: Order, reason: str) -> None:
    """A paid, unheld pickup order: issue its code and move it to ``awaiting_pickup``."""
    if order.status != "paid" or order.fulfillment_hold:
        return  # held: order_released comes back once the holder lifts it
    pickup = await _pickup_of(ctx, order)
    if pickup is None or pickup.status != "pending":
        return
    await codes.issue(ctx, pickup)
    await transition(ctx, order, "awaiting_pickup", actor=f"plugin:{PLUGIN}", reason=reason)


async def order_paid(ctx: TenantContext, order: Order) -> None:
    await _ready(ctx, order, "paid")


async def order_released(ctx: TenantContext, order: Order) -> None:
    await _ready(ctx, order, "released")


async def _close(ctx: TenantContext, order: Order, release_slot: bool) -> None:
    pickup = await _pickup_of(ctx, order)
    if pickup is None or pickup.status not in ("pending", "open"):
        return
    closed = await ctx.session.scalar(
        update(PickupOrder)
        .where(PickupOrder.id == pickup.id, PickupOrder.status.in_(("pending", "open")))
        .values(status="cancelled", open_code=None, closed_at=utcnow())
        .returning(PickupOrder.id)
        .execution_options(synchronize_session=False)
    )
    if closed is None or not release_slot:
        return
    await ctx.session.execute(
        update(PickupSlot)
        .where(
            PickupSlot.point_id == pickup.point_id,
            PickupSlot.starts_at == pickup.slot_starts_at,
            PickupSlot.booked > 0,
        )
        .values(booked=PickupSlot.booked - 1)
        .execution_options(synchronize_session=False)
    )


async def order_cancelled(ctx: TenantContext, order: Order) -> None:
    await _close(ctx, order, release_slot=True)


async def order_refunded(ctx: TenantContext, order: Order) -> None:
    # A refunded order's code stops working; its slot is given back only if still ahead.
    pickup = await _pickup_of(ctx, order)
    ahead = pickup is not None and pickup.slot_starts_at > utcnow()
    await _close(ctx, order, release_slot=ahead)
