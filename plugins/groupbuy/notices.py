"""The group-buy's notices: the team succeeded (the order will now be fulfilled), or the team
failed and the member's payment is being refunded. One per member and team: each is recorded
in the transaction that settles that member's place, under a key of their order."""

from __future__ import annotations

from core.context import TenantContext
from core.db import utcnow
from core.notifications.events import EventField, NotificationEvent
from core.notifications.service import notify
from core.orders.models import Order
from core.orders.notices import ORDER_FIELDS, order_values
from plugins.groupbuy.models import GroupTeam

WHEN = "2026年11月23日 14:30"
TEAM_PAGE = "pages/groupbuy/team?id={team_id}"
TEAM_ID = EventField("team_id", "拼团ID", kind="code", example="01JD4R6Y8QH2W3N5P7T9V1X3Z5")
SUCCEEDED = NotificationEvent(
    name="groupbuy.succeeded",
    title="拼团成功",
    description="The member's team is complete; their order will be fulfilled.",
    fields=(
        *ORDER_FIELDS,
        TEAM_ID,
        EventField("amount", "拼团价", kind="amount", example="¥19.90"),
        EventField("size", "成团人数", kind="number", example="3"),
        EventField("succeeded_at", "成团时间", kind="datetime", example=WHEN),
    ),
    page=TEAM_PAGE,
)
FAILED = NotificationEvent(
    name="groupbuy.failed",
    title="拼团失败",
    description="The member's team did not form in time (or was closed); they are refunded.",
    fields=(
        *ORDER_FIELDS,
        TEAM_ID,
        EventField("amount", "退款金额", kind="amount", example="¥19.90"),
        EventField("reason", "原因", example="拼团未成功，已退款"),
        EventField("failed_at", "时间", kind="datetime", example=WHEN),
    ),
    page=TEAM_PAGE,
)
EVENTS = [SUCCEEDED, FAILED]


async def notify_succeeded(ctx: TenantContext, team: GroupTeam, order: Order) -> None:
    values = await order_values(ctx, order)
    values.update(team_id=team.id, amount=order.paid_amount, size=team.size, succeeded_at=utcnow())
    await notify(
        ctx,
        SUCCEEDED.name,
        member_id=order.member_id,
        values=values,
        ref=order.id,
        key=f"{SUCCEEDED.name}:{order.id}",
    )


async def notify_failed(ctx: TenantContext, team: GroupTeam, order: Order, reason: str) -> None:
    values = await order_values(ctx, order)
    values.update(team_id=team.id, amount=order.paid_amount, reason=reason, failed_at=utcnow())
    await notify(
        ctx,
        FAILED.name,
        member_id=order.member_id,
        values=values,
        ref=order.id,
        key=f"{FAILED.name}:{order.id}",
    )
