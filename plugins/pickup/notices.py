"""The pickup plugin's notices: the order is ready (with its code), and the reminder for an
order left waiting. Both carry the order's fields (``core.orders.notices.ORDER_FIELDS``) and
the point: its name, address and the slot the buyer chose."""

from __future__ import annotations

from core.context import TenantContext
from core.db import utcnow
from core.notifications.events import EventField, NotificationEvent
from core.notifications.service import notify
from core.orders.models import Order
from core.orders.notices import ORDER_FIELDS, ORDER_PAGE, order_values
from plugins.pickup.models import PickupOrder, PickupPoint

WHEN = "2026年11月23日 14:30"
POINT_FIELDS = (
    EventField("code", "取货码", kind="code", example="12345678"),
    EventField("point", "取货点", example="南山科技园店"),
    EventField("address", "取货地址", example="深圳市南山区科技园1号"),
    EventField("slot", "取货时间", kind="datetime", example=WHEN),
)
READY = NotificationEvent(
    name="pickup.ready",
    title="待取货通知",
    description="A pickup order is ready: its pickup code is issued.",
    fields=(
        *ORDER_FIELDS,
        *POINT_FIELDS,
        EventField("ready_at", "通知时间", kind="datetime", example=WHEN),
    ),
    page=ORDER_PAGE,
)
REMINDER = NotificationEvent(
    name="pickup.reminder",
    title="取货提醒",
    description="A pickup order has waited for its buyer for the store's reminder days.",
    fields=(
        *ORDER_FIELDS,
        *POINT_FIELDS,
        EventField("days", "已等待天数", kind="number", example="2"),
    ),
    page=ORDER_PAGE,
)
EVENTS = [READY, REMINDER]


async def _values(
    ctx: TenantContext, pickup: PickupOrder
) -> tuple[Order, dict[str, object]] | None:
    order = await ctx.session.get(Order, (ctx.tenant_id, pickup.order_id))
    point = await ctx.session.get(PickupPoint, (ctx.tenant_id, pickup.point_id))
    if order is None or point is None:
        return None
    values = await order_values(ctx, order)
    values.update(
        code=pickup.code, point=point.name, address=point.address, slot=pickup.slot_starts_at
    )
    return order, values


async def notify_ready(ctx: TenantContext, pickup: PickupOrder) -> None:
    found = await _values(ctx, pickup)
    if found is not None:
        order, values = found
        values["ready_at"] = utcnow()
        await notify(ctx, READY.name, member_id=order.member_id, values=values, ref=order.id)


async def notify_reminder(ctx: TenantContext, pickup: PickupOrder) -> None:
    found = await _values(ctx, pickup)
    if found is not None:
        order, values = found
        issued = pickup.issued_at or utcnow()
        values["days"] = max((utcnow() - issued).days, 1)
        await notify(ctx, REMINDER.name, member_id=order.member_id, values=values, ref=order.id)
