"""The refunds' notices to buyers: money given back, or a refund request the merchant refused.
Both carry the order's fields (``core.orders.notices.ORDER_FIELDS``)."""

from __future__ import annotations

from core.context import TenantContext
from core.db import utcnow
from core.notifications.events import EventField, NotificationEvent
from core.notifications.service import notify
from core.orders.models import Order
from core.orders.notices import ORDER_FIELDS, ORDER_PAGE, order_values
from core.payments.models import Refund

WHEN = "2026年11月23日 14:30"
SUCCEEDED = NotificationEvent(
    name="refund.succeeded",
    title="退款成功",
    description="Money was paid back to the buyer (a refund they asked for, or the store's).",
    fields=(
        *ORDER_FIELDS,
        EventField("amount", "退款金额", kind="amount", example="¥25.00"),
        EventField("reason", "退款原因", example="商品缺货"),
        EventField("refunded_at", "退款时间", kind="datetime", example=WHEN),
    ),
    page=ORDER_PAGE,
)
REFUSED = NotificationEvent(
    name="refund.refused",
    title="退款申请被拒绝",
    description="The merchant refused the buyer's refund request, with a reason.",
    fields=(
        *ORDER_FIELDS,
        EventField("amount", "申请金额", kind="amount", example="¥25.00"),
        EventField("reason", "拒绝原因", example="商品已使用"),
        EventField("refused_at", "处理时间", kind="datetime", example=WHEN),
    ),
    page=ORDER_PAGE,
)
EVENTS = [SUCCEEDED, REFUSED]


async def notify_refunded(ctx: TenantContext, refund: Refund, order: Order) -> None:
    values = await order_values(ctx, order)
    values.update(amount=refund.amount, reason=refund.reason, refunded_at=utcnow())
    await notify(ctx, SUCCEEDED.name, member_id=order.member_id, values=values, ref=order.id)


async def notify_refused(ctx: TenantContext, refund: Refund) -> None:
    order = await ctx.session.get(Order, (ctx.tenant_id, refund.order_id))
    if order is None:
        return
    values = await order_values(ctx, order)
    values.update(amount=refund.amount, reason=refund.reject_reason, refused_at=utcnow())
    await notify(ctx, REFUSED.name, member_id=order.member_id, values=values, ref=order.id)
