"""The points plugin's notice: some of the member's points expire soon."""

from __future__ import annotations

from datetime import datetime

from core.context import TenantContext
from core.notifications.events import EventField, NotificationEvent
from core.notifications.service import notify

EXPIRING = NotificationEvent(
    name="points.expiring",
    title="积分即将过期",
    description="Points of the member's expire within the store's notice days.",
    fields=(
        EventField("points", "即将过期积分", kind="number", example="120"),
        EventField("expires_at", "过期时间", kind="date", example="2026年12月31日"),
        EventField("balance", "当前积分", kind="number", example="860"),
    ),
    page="pages/points/index",
)


async def notify_expiring(
    ctx: TenantContext, member_id: str, points: int, expires_at: datetime, balance: int, lot_id: str
) -> None:
    """One notice per announcement: its key is the first lot announced."""
    await notify(
        ctx,
        EXPIRING.name,
        member_id=member_id,
        values={"points": points, "expires_at": expires_at, "balance": balance},
        ref=lot_id,
        key=f"{EXPIRING.name}:{lot_id}",
    )
