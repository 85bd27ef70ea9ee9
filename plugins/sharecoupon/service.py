"""The merchant's side of share coupons: campaigns (create, replace, stop), their packs, and
their figures.

- A campaign names the coupon template friends get. The template is the coupons engine's:
  its stock, validity and discount apply, and the campaign adds the pack size, the budget
  and who may claim.
- A replacement changes what comes next: packs already issued keep their size and expiry,
  and a budget cannot go below what is already spent.
- The figures are aggregate queries grouped by the events' days, never loops over rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, select

from core.catalog.models import Category, Product
from core.context import TenantContext
from core.coupons.models import CouponTemplate
from core.db import utcnow
from core.orders.models import Order
from core.paging import Page, page_of, paged
from plugins.sharecoupon import errors
from plugins.sharecoupon import schemas as s
from plugins.sharecoupon.models import (
    ShareCampaign,
    ShareClaim,
    SharePack,
    ShareReferral,
    ShareReward,
)
from plugins.sharecoupon.rules import get_campaign, phase_of


def campaign_out(campaign: ShareCampaign, now: datetime | None = None) -> s.CampaignOut:
    reward = None
    if campaign.reward_kind:
        reward = s.RewardOut(
            kind=campaign.reward_kind,
            when=campaign.reward_when,
            claims=campaign.reward_claims,
            template_id=campaign.reward_template_id,
            points=campaign.reward_points,
        )
    return s.CampaignOut(
        id=campaign.id,
        title=campaign.title,
        template_id=campaign.template_id,
        pack_size=campaign.pack_size,
        trigger=campaign.trigger,  # type: ignore[arg-type]  # one of TRIGGERS
        min_order_amount=campaign.min_order_amount,
        product_ids=list(campaign.product_ids),
        category_ids=list(campaign.category_ids),
        claimers=campaign.claimers,  # type: ignore[arg-type]  # one of CLAIMERS
        dormant_days=campaign.dormant_days,
        one_per_campaign=campaign.one_per_campaign,
        pack_valid_hours=campaign.pack_valid_hours,
        coupon_valid_days=campaign.coupon_valid_days,
        max_packs=campaign.max_packs,
        max_claims=campaign.max_claims,
        reward=reward,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        status=campaign.status,  # type: ignore[arg-type]  # one of CAMPAIGN_STATUSES
        phase=phase_of(campaign, now or utcnow()),
        packs_issued=campaign.packs_issued,
        claims=campaign.claims,
        created_at=campaign.created_at,
        stopped_at=campaign.stopped_at,
    )


# ---- campaigns -----------------------------------------------------------------------------


async def _template_exists(ctx: TenantContext, template_id: str) -> bool:
    found = await ctx.session.scalar(
        select(CouponTemplate.id).where(CouponTemplate.id == template_id)
    )
    return found is not None


async def _all_exist(ctx: TenantContext, column: Any, ids: list[str]) -> bool:
    if not ids:
        return True
    found = await ctx.session.scalar(select(func.count()).where(column.in_(set(ids))))
    return found == len(set(ids))


def _check_shape(data: s.CampaignIn, starts_at: datetime, *, creating: bool) -> None:
    """The checks of one field against another."""
    if data.ends_at is not None:
        if data.ends_at <= starts_at:
            raise errors.invalid("ends_at", "must be after starts_at")
        if creating and data.ends_at <= utcnow():
            raise errors.invalid("ends_at", "must be in the future")
    if data.claimers == "dormant" and data.dormant_days < 1:
        raise errors.invalid("dormant_days", "at least 1 for dormant claimers")
    if data.trigger == "manual":
        for name in ("min_order_amount", "product_ids", "category_ids"):
            if getattr(data, name):
                raise errors.invalid(name, "only for campaigns triggered by an order")
    reward = data.reward
    if reward is None:
        return
    if reward.when == "claims" and reward.claims > data.pack_size:
        raise errors.invalid("reward.claims", f"at most the pack size ({data.pack_size})")
    if reward.kind == "coupon" and reward.template_id is None:
        raise errors.invalid("reward.template_id", "required for a coupon reward")
    if reward.kind == "points" and reward.points < 1:
        raise errors.invalid("reward.points", "at least 1 for a points reward")


async def _check_input(
    ctx: TenantContext, data: s.CampaignIn, starts_at: datetime, *, creating: bool
) -> None:
    _check_shape(data, starts_at, creating=creating)
    if not await _template_exists(ctx, data.template_id):
        raise errors.invalid("template_id", "no such coupon template")
    if not await _all_exist(ctx, Product.id, data.product_ids):
        raise errors.invalid("product_ids", "not every id is a product of this store")
    if not await _all_exist(ctx, Category.id, data.category_ids):
        raise errors.invalid("category_ids", "not every id is a category of this store")
    reward = data.reward
    if reward is not None and reward.kind == "coupon":
        assert reward.template_id is not None  # _check_shape
        if not await _template_exists(ctx, reward.template_id):
            raise errors.invalid("reward.template_id", "no such coupon template")
    if (
        reward is not None
        and reward.kind == "points"
        and "points" not in ctx.tenant.enabled_plugins
    ):
        raise errors.invalid("reward.kind", "switch the points plugin on to reward with points")


def _apply(campaign: ShareCampaign, data: s.CampaignIn, starts_at: datetime) -> None:
    campaign.title = data.title
    campaign.template_id = data.template_id
    campaign.pack_size = data.pack_size
    campaign.trigger = data.trigger
    campaign.min_order_amount = data.min_order_amount
    campaign.product_ids = sorted(set(data.product_ids))
    campaign.category_ids = sorted(set(data.category_ids))
    campaign.claimers = data.claimers
    campaign.dormant_days = data.dormant_days if data.claimers == "dormant" else 0
    campaign.one_per_campaign = data.one_per_campaign
    campaign.pack_valid_hours = data.pack_valid_hours
    campaign.coupon_valid_days = data.coupon_valid_days
    campaign.max_packs = data.max_packs
    campaign.max_claims = data.max_claims
    reward = data.reward
    campaign.reward_kind = reward.kind if reward else ""
    campaign.reward_when = reward.when if reward else "claims"
    campaign.reward_claims = reward.claims if reward and reward.when == "claims" else 0
    campaign.reward_template_id = reward.template_id if reward and reward.kind == "coupon" else None
    campaign.reward_points = reward.points if reward and reward.kind == "points" else 0
    campaign.starts_at = starts_at
    campaign.ends_at = data.ends_at


async def create(ctx: TenantContext, data: s.CampaignIn) -> s.CampaignOut:
    now = utcnow()
    starts_at = data.starts_at or now
    await _check_input(ctx, data, starts_at, creating=True)
    campaign = ShareCampaign(status="active", created_at=now, updated_at=now)
    _apply(campaign, data, starts_at)
    ctx.session.add(campaign)
    await ctx.session.flush()
    return campaign_out(campaign, now)


async def replace(ctx: TenantContext, campaign_id: str, data: s.CampaignIn) -> s.CampaignOut:
    """A full replacement of an active campaign, its row locked (a claim counting against
    the budget waits); packs already issued keep their size and expiry."""
    campaign = await get_campaign(ctx, campaign_id, lock=True)
    if campaign.status != "active":
        raise errors.campaign_stopped()
    starts_at = data.starts_at or campaign.starts_at
    await _check_input(ctx, data, starts_at, creating=False)
    if data.max_packs is not None and data.max_packs < campaign.packs_issued:
        raise errors.invalid("max_packs", f"{campaign.packs_issued} packs are issued already")
    if data.max_claims is not None and data.max_claims < campaign.claims:
        raise errors.invalid("max_claims", f"{campaign.claims} coupons are claimed already")
    _apply(campaign, data, starts_at)
    campaign.updated_at = utcnow()
    await ctx.session.flush()
    return campaign_out(campaign)


async def stop(ctx: TenantContext, campaign_id: str) -> s.CampaignOut:
    """No new packs and no claims from now on. Coupons already claimed stay with the friends.
    Stopping a stopped campaign changes nothing."""
    campaign = await get_campaign(ctx, campaign_id, lock=True)
    if campaign.status == "active":
        campaign.status = "stopped"
        campaign.stopped_at = campaign.updated_at = utcnow()
        await ctx.session.flush()
    return campaign_out(campaign)


async def detail(ctx: TenantContext, campaign_id: str) -> s.CampaignOut:
    return campaign_out(await get_campaign(ctx, campaign_id))


async def list_campaigns(
    ctx: TenantContext, limit: int, cursor: str | None, status: str | None
) -> Page[s.CampaignOut]:
    query = select(ShareCampaign)
    if status is not None:
        query = query.where(ShareCampaign.status == status)
    rows = list((await ctx.session.scalars(paged(query, ShareCampaign.id, limit, cursor))).all())
    now = utcnow()
    return page_of(rows, limit, lambda row: campaign_out(row, now), lambda row: row.id)


# ---- packs ---------------------------------------------------------------------------------


def pack_status(pack: SharePack, now: datetime) -> s.PackStatus:
    if pack.status == "void":
        return "void"
    if pack.claimed >= pack.size:
        return "empty"
    return "expired" if pack.expires_at <= now else "active"


async def list_packs(
    ctx: TenantContext, campaign_id: str, limit: int, cursor: str | None
) -> Page[s.PackAdminOut]:
    campaign = await get_campaign(ctx, campaign_id)
    query = select(SharePack).where(SharePack.campaign_id == campaign.id)
    rows = list((await ctx.session.scalars(paged(query, SharePack.id, limit, cursor))).all())
    rewards: dict[str, str] = {}
    if rows:
        found = await ctx.session.execute(
            select(ShareReward.pack_id, ShareReward.status).where(
                ShareReward.pack_id.in_([pack.id for pack in rows[:limit]])
            )
        )
        rewards = {pack_id: status for pack_id, status in found}
    now = utcnow()

    def out(pack: SharePack) -> s.PackAdminOut:
        return s.PackAdminOut(
            id=pack.id,
            campaign_id=pack.campaign_id,
            sharer_id=pack.sharer_id,
            order_id=pack.order_id,
            size=pack.size,
            claimed=pack.claimed,
            status=pack_status(pack, now),
            shared=pack.shared_at is not None,
            expires_at=pack.expires_at,
            created_at=pack.created_at,
            voided_at=pack.voided_at,
            reward_status=rewards.get(pack.id),  # type: ignore[arg-type]  # REWARD_STATUSES
        )

    return page_of(rows, limit, out, lambda pack: pack.id)


# ---- figures -------------------------------------------------------------------------------

FIGURES = tuple(s.StatsFigures.__struct_fields__)


def _figures(values: dict[str, int], sizes: int) -> dict[str, int]:
    figures = {name: int(values.get(name, 0)) for name in FIGURES}
    figures["claim_rate_percent"] = figures["claims"] * 100 // sizes if sizes else 0
    return figures


async def stats(ctx: TenantContext, campaign_id: str) -> s.StatsOut:
    """The campaign's figures in total and per day (China Standard Time), from five grouped
    queries: packs by the day they were issued and shared, claims by the day they were
    made, new members by the day they registered, coupons used (with their orders' GMV) by
    the day they were paid, and rewards by the day they were granted."""
    campaign = await get_campaign(ctx, campaign_id)
    per_day: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sizes: dict[str, int] = defaultdict(int)
    of_campaign = SharePack.campaign_id == campaign.id
    for day, count, size in await ctx.session.execute(
        select(SharePack.day, func.count(), func.sum(SharePack.size))
        .where(of_campaign)
        .group_by(SharePack.day)
    ):
        per_day[day]["packs_issued"] = count
        sizes[day] = int(size or 0)
    for shared_day, count in await ctx.session.execute(
        select(SharePack.shared_day, func.count())
        .where(of_campaign, SharePack.shared_day.is_not(None))
        .group_by(SharePack.shared_day)
    ):
        per_day[str(shared_day)]["packs_shared"] = count
    for day, count in await ctx.session.execute(
        select(ShareClaim.day, func.count())
        .where(ShareClaim.campaign_id == campaign.id)
        .group_by(ShareClaim.day)
    ):
        per_day[day]["claims"] = count
    for day, count in await ctx.session.execute(
        select(ShareReferral.day, func.count())
        .where(ShareReferral.campaign_id == campaign.id)
        .group_by(ShareReferral.day)
    ):
        per_day[day]["new_members"] = count
    # One row per claimed coupon, each on at most one order: nothing is counted twice.
    kept = Order.paid_amount - Order.refunded_amount
    for used_day, count, gmv, discount in await ctx.session.execute(
        select(
            ShareClaim.used_day,
            func.count(),
            func.coalesce(func.sum(kept), 0),
            func.coalesce(
                func.sum(
                    case((Order.refunded_amount < Order.paid_amount, ShareClaim.discount), else_=0)
                ),
                0,
            ),
        )
        .join(Order, and_(Order.tenant_id == ShareClaim.tenant_id, Order.id == ShareClaim.order_id))
        .where(ShareClaim.campaign_id == campaign.id, ShareClaim.used_day.is_not(None))
        .group_by(ShareClaim.used_day)
    ):
        figures = per_day[str(used_day)]
        figures["coupons_used"], figures["gmv"], figures["discount_cost"] = count, gmv, discount
    for granted_day, count, value, points in await ctx.session.execute(
        select(
            ShareReward.granted_day,
            func.count(),
            func.coalesce(func.sum(ShareReward.value), 0),
            func.coalesce(func.sum(ShareReward.points), 0),
        )
        .where(ShareReward.campaign_id == campaign.id, ShareReward.status == "granted")
        .group_by(ShareReward.granted_day)
    ):
        figures = per_day[str(granted_day)]
        figures["rewards_granted"] = count
        figures["reward_coupon_value"], figures["reward_points"] = value, points
    totals: dict[str, int] = defaultdict(int)
    for figures in per_day.values():
        for name, value in figures.items():
            totals[name] += int(value)
    days = [
        s.StatsDay(day=date.fromisoformat(day), **_figures(per_day[day], sizes[day]))
        for day in sorted(per_day)
    ]
    return s.StatsOut(
        campaign_id=campaign.id,
        totals=s.StatsFigures(**_figures(totals, sum(sizes.values()))),
        days=days,
    )
