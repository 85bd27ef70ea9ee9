"""What buyers read: their packs ("my packs", the pack of an order) and the running "share
to win" campaigns. Claimers are shown by nickname and avatar only."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import and_, or_, select

from core.context import TenantContext
from core.coupons.models import CouponTemplate
from core.coupons.service import template_label
from core.db import ID_LENGTH, utcnow
from core.members.models import Member
from core.paging import Page, page_of, paged
from plugins.sharecoupon import errors
from plugins.sharecoupon import schemas as s
from plugins.sharecoupon.claiming import coupon_brief
from plugins.sharecoupon.models import ShareCampaign, ShareClaim, SharePack, ShareReward
from plugins.sharecoupon.packs import own_pack
from plugins.sharecoupon.rules import settings_of
from plugins.sharecoupon.service import pack_status


async def pack_outs(ctx: TenantContext, packs: Sequence[SharePack]) -> list[s.PackOut]:
    """The packs as their sharer sees them, in four queries however many there are (a pack
    has at most 100 claimers, so reading them all and keeping the newest is bounded)."""
    if not packs:
        return []
    ids = [pack.id for pack in packs]
    campaigns = {
        c.id: c
        for c in await ctx.session.scalars(
            select(ShareCampaign).where(ShareCampaign.id.in_({p.campaign_id for p in packs}))
        )
    }
    templates = {
        t.id: t
        for t in await ctx.session.scalars(
            select(CouponTemplate).where(
                CouponTemplate.id.in_({c.template_id for c in campaigns.values()})
            )
        )
    }
    shown = settings_of(ctx.tenant).claimers_shown
    people: dict[str, list[s.Claimer]] = defaultdict(list)
    rows = await ctx.session.execute(
        select(ShareClaim.pack_id, Member.nickname, Member.avatar_url, ShareClaim.created_at)
        .join(
            Member,
            and_(Member.tenant_id == ShareClaim.tenant_id, Member.id == ShareClaim.member_id),
        )
        .where(ShareClaim.pack_id.in_(ids))
        .order_by(ShareClaim.created_at.desc(), ShareClaim.id.desc())
    )
    for pack_id, nickname, avatar_url, claimed_at in rows:
        if len(people[pack_id]) < shown:
            people[pack_id].append(
                s.Claimer(nickname=nickname, avatar_url=avatar_url, claimed_at=claimed_at)
            )
    rewards = {
        r.pack_id: s.RewardState(
            kind=r.kind,
            status=r.status,  # type: ignore[arg-type]  # one of REWARD_STATUSES
            points=r.points,
            coupon_id=r.coupon_id,
        )
        for r in await ctx.session.scalars(select(ShareReward).where(ShareReward.pack_id.in_(ids)))
    }
    now = utcnow()
    out = []
    for pack in packs:
        campaign = campaigns[pack.campaign_id]
        template = templates.get(campaign.template_id)
        out.append(
            s.PackOut(
                id=pack.id,
                campaign_id=campaign.id,
                title=campaign.title,
                coupon=s.CouponBrief(
                    template_id=campaign.template_id,
                    name=template.name if template else "",
                    label=template_label(template) if template else "",
                ),
                order_id=pack.order_id,
                size=pack.size,
                left=pack.size - pack.claimed,
                status=pack_status(pack, now),
                shared=pack.shared_at is not None,
                expires_at=pack.expires_at,
                created_at=pack.created_at,
                claimers=people[pack.id],
                reward=rewards.get(pack.id),
            )
        )
    return out


async def pack_out(ctx: TenantContext, pack: SharePack) -> s.PackOut:
    [out] = await pack_outs(ctx, [pack])
    return out


async def my_pack(ctx: TenantContext, member_id: str, pack_id: str) -> s.PackOut:
    return await pack_out(ctx, await own_pack(ctx, member_id, pack_id))


async def pack_of_order(ctx: TenantContext, member_id: str, order_id: str) -> s.PackOut:
    """The pack the member's paid order unlocked, or 404 (none, or not their order)."""
    pack = None
    if len(order_id) <= ID_LENGTH:
        pack = await ctx.session.scalar(
            select(SharePack).where(
                SharePack.order_id == order_id, SharePack.sharer_id == member_id
            )
        )
    if pack is None:
        raise errors.pack_not_found()
    return await pack_out(ctx, pack)


async def my_packs(
    ctx: TenantContext, member_id: str, limit: int, cursor: str | None
) -> Page[s.PackOut]:
    rows = list(
        (
            await ctx.session.scalars(
                paged(
                    select(SharePack).where(SharePack.sharer_id == member_id),
                    SharePack.id,
                    limit,
                    cursor,
                )
            )
        ).all()
    )
    page = page_of(rows, limit, lambda pack: pack.id, lambda pack: pack.id)
    return Page(items=await pack_outs(ctx, rows[:limit]), next_cursor=page.next_cursor)


async def manual_campaigns(ctx: TenantContext) -> list[s.StoreCampaign]:
    """The running "share to win" campaigns (at most 50, the newest first)."""
    now = utcnow()
    rows = await ctx.session.scalars(
        select(ShareCampaign)
        .where(
            ShareCampaign.trigger == "manual",
            ShareCampaign.status == "active",
            ShareCampaign.starts_at <= now,
            or_(ShareCampaign.ends_at.is_(None), ShareCampaign.ends_at > now),
            or_(
                ShareCampaign.max_packs.is_(None),
                ShareCampaign.packs_issued < ShareCampaign.max_packs,
            ),
        )
        .order_by(ShareCampaign.id.desc())
        .limit(50)
    )
    return [
        s.StoreCampaign(
            id=campaign.id,
            title=campaign.title,
            coupon=await coupon_brief(ctx, campaign.template_id),
            pack_size=campaign.pack_size,
            ends_at=campaign.ends_at,
        )
        for campaign in rows.all()
    ]
