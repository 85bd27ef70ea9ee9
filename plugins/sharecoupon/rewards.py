"""The sharer's reward: a coupon or points for a pack, once.

The reward row is written with the pack (``pending``) when the campaign has a reward, with
what it will be (so a later edit of the campaign does not change a pack already out).
Granting is ``UPDATE … SET status = 'granted' WHERE pack_id = :pack AND status = 'pending'``
in a savepoint with the coupon's issue or the points' lot: two claims reaching K at once, or
two friends paying at once, grant it once; a refund's cancel and a grant race on the same
row and one of them wins. When the coupon cannot be issued (its template ran out or was
stopped) the savepoint rolls back and the reward stays pending for the next trigger.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from core.context import TenantContext
from core.coupons import service as coupons
from core.coupons.models import CouponTemplate
from core.db import utcnow
from core.errors import AppError
from plugins.points import ledger as points_ledger
from plugins.sharecoupon import notices
from plugins.sharecoupon.models import ShareCampaign, SharePack, ShareReward
from plugins.sharecoupon.rules import SOURCE, day_of

log = logging.getLogger("storeplug.sharecoupon")
FACE_VALUE_KINDS = ("fixed", "threshold")  # the template's ``amount`` is what it takes off


async def prepare(ctx: TenantContext, campaign: ShareCampaign, pack: SharePack) -> None:
    if not campaign.reward_kind:
        return
    ctx.session.add(
        ShareReward(
            pack_id=pack.id,
            campaign_id=campaign.id,
            sharer_id=pack.sharer_id,
            kind=campaign.reward_kind,
            status="pending",
            points=campaign.reward_points,
        )
    )
    await ctx.session.flush()


async def _face_value(ctx: TenantContext, template_id: str) -> int:
    row = (
        await ctx.session.execute(
            select(CouponTemplate.kind, CouponTemplate.amount).where(
                CouponTemplate.id == template_id
            )
        )
    ).first()
    return row[1] if row is not None and row[0] in FACE_VALUE_KINDS else 0


async def _coupon_text(ctx: TenantContext, template_id: str) -> str:
    template = await ctx.session.get(CouponTemplate, (ctx.tenant_id, template_id))
    return f"{template.name}（{coupons.template_label(template)}）" if template else "优惠券"


async def grant(ctx: TenantContext, campaign: ShareCampaign, pack_id: str) -> bool:
    """Give the pack's pending reward; False when there is none pending (granted already,
    cancelled, or the campaign has no reward) or its coupon could not be issued."""
    now = utcnow()
    try:
        async with ctx.session.begin_nested():
            row = (
                await ctx.session.execute(
                    update(ShareReward)
                    .where(ShareReward.pack_id == pack_id, ShareReward.status == "pending")
                    .values(status="granted", granted_at=now, granted_day=day_of(now))
                    .returning(
                        ShareReward.id, ShareReward.kind, ShareReward.sharer_id, ShareReward.points
                    )
                    .execution_options(synchronize_session=False)
                )
            ).first()
            if row is None:
                return False
            reward_id, kind, sharer_id, points = row
            if kind == "points":
                await points_ledger.lock(ctx, sharer_id)
                await points_ledger.earn(
                    ctx,
                    sharer_id,
                    points,
                    ref_type=SOURCE,
                    ref_id=pack_id,
                    reason="share coupon reward",
                )
                await notices.notify_rewarded(
                    ctx, campaign, pack_id, sharer_id, f"{points}积分", now
                )
                return True
            template_id = campaign.reward_template_id
            if template_id is None:
                raise AppError("the campaign's reward has no coupon", code="sharecoupon.no_reward")
            coupon = await coupons.issue(
                ctx, template_id, sharer_id, source=SOURCE, respect_limit=False
            )
            await ctx.session.execute(
                update(ShareReward)
                .where(ShareReward.id == reward_id)
                .values(coupon_id=coupon.id, value=await _face_value(ctx, template_id))
                .execution_options(synchronize_session=False)
            )
            await notices.notify_rewarded(
                ctx, campaign, pack_id, sharer_id, await _coupon_text(ctx, template_id), now
            )
    except AppError as exc:
        log.warning(
            "share reward of pack %s not granted yet: %s (%s)", pack_id, exc.detail, exc.code
        )
        return False
    return True


async def cancel(ctx: TenantContext, pack_id: str, now: datetime) -> None:
    await ctx.session.execute(
        update(ShareReward)
        .where(ShareReward.pack_id == pack_id, ShareReward.status == "pending")
        .values(status="cancelled", cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
