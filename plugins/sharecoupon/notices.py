"""The share coupon's notices to the sharer: a friend claimed from their pack, and their
reward was granted. Each is recorded in the transaction of the claim or the grant, once (a
key of the claim, or of the pack for the reward)."""

from __future__ import annotations

from datetime import datetime

from core.context import TenantContext
from core.notifications.events import EventField, NotificationEvent
from core.notifications.service import notify
from plugins.sharecoupon.models import ShareCampaign, SharePack

WHEN = "2026年12月03日 14:30"
PACK_PAGE = "pages/sharecoupon/pack?id={pack_id}"
PACK_ID = EventField("pack_id", "券包ID", kind="code", example="01JD4R6Y8QH2W3N5P7T9V1X3Z5")
CAMPAIGN = EventField("campaign", "活动", example="分享立减金")
CLAIMED = NotificationEvent(
    name="sharecoupon.claimed",
    title="好友领取了你分享的券",
    description="A friend claimed a coupon from the member's shared pack.",
    fields=(
        PACK_ID,
        CAMPAIGN,
        EventField("friend", "好友", example="阿李"),
        EventField("left", "剩余张数", kind="number", example="3"),
        EventField("claimed_at", "领取时间", kind="datetime", example=WHEN),
    ),
    page=PACK_PAGE,
)
REWARDED = NotificationEvent(
    name="sharecoupon.rewarded",
    title="分享奖励已到账",
    description="The member's reward for sharing a pack was granted (a coupon or points).",
    fields=(
        PACK_ID,
        CAMPAIGN,
        EventField("reward", "奖励", example="满100减10券"),
        EventField("granted_at", "发放时间", kind="datetime", example=WHEN),
    ),
    page=PACK_PAGE,
)
EVENTS = [CLAIMED, REWARDED]


async def notify_claimed(
    ctx: TenantContext,
    campaign: ShareCampaign,
    pack: SharePack,
    claim_id: str,
    friend: str,
    left: int,
    at: datetime,
) -> None:
    await notify(
        ctx,
        CLAIMED.name,
        member_id=pack.sharer_id,
        values={
            "pack_id": pack.id,
            "campaign": campaign.title,
            "friend": friend or "好友",
            "left": left,
            "claimed_at": at,
        },
        ref=pack.id,
        key=f"{CLAIMED.name}:{claim_id}",
    )


async def notify_rewarded(
    ctx: TenantContext,
    campaign: ShareCampaign,
    pack_id: str,
    sharer_id: str,
    reward: str,
    at: datetime,
) -> None:
    await notify(
        ctx,
        REWARDED.name,
        member_id=sharer_id,
        values={"pack_id": pack_id, "campaign": campaign.title, "reward": reward, "granted_at": at},
        ref=pack_id,
        key=f"{REWARDED.name}:{pack_id}",
    )
