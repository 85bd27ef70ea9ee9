"""The orders' notices to buyers (order paid, order shipped), and the fields every notice
about an order offers, for the core's other notices and for plugins to reuse.

``ORDER_FIELDS`` and ``order_values`` are the common part: the order's id (for the page), its
number and a one-line summary of what was bought ("拿铁咖啡等3件", cut so that "等3件" stays
readable in a 20-character ``thing``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from core.context import TenantContext
from core.notifications.events import EventField, NotificationEvent
from core.notifications.fields import LIMITS, clip
from core.notifications.service import notify
from core.orders.models import Order, OrderLine

ORDER_PAGE = "pages/order/detail?id={order_id}"
ORDER_FIELDS = (
    EventField("order_id", "订单ID", kind="code", example="01JD4R6Y8QH2W3N5P7T9V1X3Z5"),
    EventField("order_number", "订单号", kind="code", example="20261123123456789012"),
    EventField("product", "商品", example="拿铁咖啡等2件"),
)
AMOUNT = EventField("amount", "金额", kind="amount", example="¥25.00")

PAID = NotificationEvent(
    name="order.paid",
    title="订单支付成功",
    description="The buyer's payment for an order succeeded.",
    fields=(
        *ORDER_FIELDS,
        AMOUNT,
        EventField("paid_at", "支付时间", kind="datetime", example="2026年11月23日 14:30"),
    ),
    page=ORDER_PAGE,
)
SHIPPED = NotificationEvent(
    name="order.shipped",
    title="订单发货",
    description="An express order was shipped, with its carrier and tracking number.",
    fields=(
        *ORDER_FIELDS,
        EventField("carrier", "快递公司", example="顺丰速运"),
        EventField("tracking_no", "快递单号", kind="code", example="SF1234567890"),
        EventField("shipped_at", "发货时间", kind="datetime", example="2026年11月23日 14:30"),
    ),
    page=ORDER_PAGE,
)
EVENTS = [PAID, SHIPPED]


def summary(lines: Sequence[tuple[str, int]]) -> str:
    """``[(title, quantity), ...]`` as "拿铁咖啡等3件" (the first title and the unit count)."""
    if not lines:
        return ""
    first, units = lines[0][0], sum(quantity for _, quantity in lines)
    if units <= 1:
        return first
    suffix = f"等{units}件"
    return clip(first, LIMITS["thing"] - len(suffix)) + suffix


async def order_values(ctx: TenantContext, order: Order) -> dict[str, object]:
    """The ``ORDER_FIELDS`` values of ``order``: one query for its lines."""
    lines = (
        await ctx.session.execute(
            select(OrderLine.title, OrderLine.quantity)
            .where(OrderLine.order_id == order.id)
            .order_by(OrderLine.id)
        )
    ).all()
    return {
        "order_id": order.id,
        "order_number": order.number,
        "product": summary([(title, quantity) for title, quantity in lines]),
    }


async def notify_paid(ctx: TenantContext, order: Order) -> None:
    values = await order_values(ctx, order)
    values.update(amount=order.paid_amount, paid_at=order.paid_at)
    await notify(ctx, PAID.name, member_id=order.member_id, values=values, ref=order.id)


async def notify_shipped(ctx: TenantContext, order: Order) -> None:
    if order.status != "shipped":
        return  # awaiting_pickup: the pickup plugin tells the buyer
    values = await order_values(ctx, order)
    values.update(carrier=order.carrier, tracking_no=order.tracking_no, shipped_at=order.shipped_at)
    await notify(ctx, SHIPPED.name, member_id=order.member_id, values=values, ref=order.id)
