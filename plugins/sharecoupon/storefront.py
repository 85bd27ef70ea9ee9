"""What buyers read: their packs ("my packs", the pack of an order) and the running "share
to win" campaigns. Claimers are shown by nickname and avatar only."""

from __future__ import annotations

from sqlalchemy import or_, select

from core.context import TenantContext
from core.db import ID_LENGTH, utcnow
from core.paging import Page, page_of, paged
from plugins.sharecoupon import errors, rewards
from plugins.sharecoupon import schemas as s
from plugins.sharecoupon.claiming import claimers, coupon_brief
from plugins.sharecoupon.models import ShareCampaign, SharePack
from plugins.sharecoupon.packs import own_pack
from plugins.sharecoupon.rules import get_campaign, settings_of
from plugins.sharecoupon.service import pack_status


async def pack_out(ctx: TenantContext, pack: SharePack) -> s.PackOut:
    campaign = await get_campaign(ctx, pack.campaign_id)
    return s.PackOut(
        id=pack.id,
        campaign_id=campaign.id,
        title=campaign.title,
        coupon=await coupon_brief(ctx, campaign.template_id),
        order_id=pack.order_id,
        size=pack.size,
        left=pack.size - pack.claimed,
        status=pack_status(pack, utcnow()),
        shared=pack.shared_at is not None,
        expires_at=pack.expires_at,
        created_at=pack.created_at,
        claimers=await claimers(ctx, pack.id, settings_of(ctx.tenant).claimers_shown),
        reward=await rewards.state_of(ctx, pack.id),
    )


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
    items = [await pack_out(ctx, pack) for pack in rows[:limit]]
    page = page_of(rows, limit, lambda pack: pack.id, lambda pack: pack.id)
    return Page(items=items, next_cursor=page.next_cursor)


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
