"""A pack's life: unlocked by a paid order (or a member's tap on a "share to win" campaign),
shared with a token, withdrawn when its order is refunded in full.

- **Once per order.** ``order_paid`` writes at most one pack per order: the unique key on
  ``(tenant_id, order_id)`` decides, inside a savepoint with the budget's UPDATE, so a hook
  that runs again (a retried notification, a replayed job) changes nothing.
- **Budget.** Taking a pack is one conditional UPDATE of the campaign's ``packs_issued``
  (``WHERE packs_issued < max_packs``): with a budget of 3 packs, the 4th qualifying order
  gets none, however many are paid at once.
- **Lock order.** A claim takes the pack's row, then the campaign's, then the coupon
  template's (through the coupons engine); a payment takes the campaign's (a new pack), then
  the template's: ``order_paid`` runs first among the hooks (``tryfirst``), before the
  engine marks the order's coupon used. The same order everywhere: no deadlock.
- **Refunds.** A whole-order refund voids the order's pack: the coupons not yet claimed are
  never issued, and a reward not yet granted is cancelled. Coupons already claimed stay
  with the friends who claimed them (they did nothing wrong, and taking back a coupon a
  friend may already have spent cannot be done cleanly); see docs/decisions.md.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from core.catalog.models import Product
from core.catalog.service import descendants, parent_map
from core.context import TenantContext
from core.coupons.models import CouponTemplate
from core.db import ID_LENGTH, utcnow
from core.orders.models import Order, OrderLine
from plugins.sharecoupon import errors, rewards
from plugins.sharecoupon import schemas as s
from plugins.sharecoupon.models import ShareCampaign, SharePack
from plugins.sharecoupon.rules import (
    day_of,
    get_campaign,
    phase_of,
    settings_of,
    share_token,
    token_hash,
)


def _running(now: datetime) -> list[ColumnElement[bool]]:
    return [
        ShareCampaign.status == "active",
        ShareCampaign.starts_at <= now,
        or_(ShareCampaign.ends_at.is_(None), ShareCampaign.ends_at > now),
    ]


async def _take_budget(ctx: TenantContext, campaign_id: str, now: datetime) -> bool:
    taken = await ctx.session.scalar(
        update(ShareCampaign)
        .where(
            ShareCampaign.id == campaign_id,
            *_running(now),
            or_(
                ShareCampaign.max_packs.is_(None),
                ShareCampaign.packs_issued < ShareCampaign.max_packs,
            ),
        )
        .values(packs_issued=ShareCampaign.packs_issued + 1, updated_at=ShareCampaign.updated_at)
        .returning(ShareCampaign.id)
        .execution_options(synchronize_session=False)
    )
    return taken is not None


async def _template_active(ctx: TenantContext, template_id: str) -> bool:
    status = await ctx.session.scalar(
        select(CouponTemplate.status).where(CouponTemplate.id == template_id)
    )
    return status == "active"


async def _new_pack(
    ctx: TenantContext,
    campaign: ShareCampaign,
    sharer_id: str,
    now: datetime,
    *,
    order_id: str | None = None,
) -> SharePack | None:
    """The pack, with the budget taken and its reward written, in a savepoint; None when the
    budget is spent or the pack exists already (the unique keys decide)."""
    try:
        async with ctx.session.begin_nested():
            if not await _take_budget(ctx, campaign.id, now):
                return None
            pack = SharePack(
                campaign_id=campaign.id,
                sharer_id=sharer_id,
                order_id=order_id,
                manual_key=None if order_id else sharer_id,
                size=campaign.pack_size,
                claimed=0,
                status="active",
                nonce=secrets.token_hex(16),
                expires_at=now + timedelta(hours=campaign.pack_valid_hours),
                day=day_of(now),
                created_at=now,
            )
            ctx.session.add(pack)
            await ctx.session.flush()
            await rewards.prepare(ctx, campaign, pack)
    except IntegrityError:
        return None
    return pack


# ---- unlocked by a paid order --------------------------------------------------------------


async def _order_products(ctx: TenantContext, order_id: str) -> tuple[set[str], set[str]]:
    """The order's product ids and their categories (one query)."""
    rows = await ctx.session.execute(
        select(OrderLine.product_id, Product.category_id)
        .join(
            Product,
            and_(Product.tenant_id == OrderLine.tenant_id, Product.id == OrderLine.product_id),
        )
        .where(OrderLine.order_id == order_id)
    )
    products: set[str] = set()
    categories: set[str] = set()
    for product_id, category_id in rows:
        products.add(product_id)
        if category_id:
            categories.add(category_id)
    return products, categories


async def _qualifying(ctx: TenantContext, order: Order, now: datetime) -> list[ShareCampaign]:
    """The running order campaigns this order qualifies for, the highest threshold first."""
    campaigns = list(
        (
            await ctx.session.scalars(
                select(ShareCampaign)
                .where(
                    ShareCampaign.trigger == "order",
                    *_running(now),
                    ShareCampaign.min_order_amount <= order.paid_amount,
                )
                .order_by(ShareCampaign.min_order_amount.desc(), ShareCampaign.id)
            )
        ).all()
    )
    if not any(c.product_ids or c.category_ids for c in campaigns):
        return campaigns
    products, categories = await _order_products(ctx, order.id)
    parents = await parent_map(ctx) if any(c.category_ids for c in campaigns) else {}

    def matches(campaign: ShareCampaign) -> bool:
        if not campaign.product_ids and not campaign.category_ids:
            return True
        if products & set(campaign.product_ids):
            return True
        wanted = set().union(
            *(descendants(parents, c) for c in campaign.category_ids if c in parents)
        )
        return bool(categories & wanted)

    return [c for c in campaigns if matches(c)]


async def issue_for_order(ctx: TenantContext, order: Order) -> SharePack | None:
    """``order_paid``: the pack of the first qualifying campaign that has budget left."""
    now = utcnow()
    if await ctx.session.scalar(select(SharePack.id).where(SharePack.order_id == order.id)):
        return None  # this order has its pack already
    for campaign in await _qualifying(ctx, order, now):
        if not await _template_active(ctx, campaign.template_id):
            continue
        pack = await _new_pack(ctx, campaign, order.member_id, now, order_id=order.id)
        if pack is not None:
            return pack
    return None


async def void_for_order(ctx: TenantContext, order: Order) -> None:
    """``order_refunded``: the order's pack takes no more claims; its reward, if not granted
    yet, is cancelled. Claimed coupons are the friends'."""
    now = utcnow()
    voided = await ctx.session.scalar(
        update(SharePack)
        .where(SharePack.order_id == order.id, SharePack.status == "active")
        .values(status="void", voided_at=now)
        .returning(SharePack.id)
        .execution_options(synchronize_session=False)
    )
    if voided is not None:
        await rewards.cancel(ctx, voided, now)


# ---- "share to win" ------------------------------------------------------------------------


async def open_manual(ctx: TenantContext, member_id: str, campaign_id: str) -> SharePack:
    """A member opens their one pack of a running manual campaign."""
    campaign = await get_campaign(ctx, campaign_id)
    if campaign.trigger != "manual":
        raise errors.not_manual()
    now = utcnow()
    phase = phase_of(campaign, now)
    if phase == "spent":
        raise errors.over_budget()
    if phase != "running":
        raise errors.campaign_ended()
    existing = await ctx.session.scalar(
        select(SharePack.id).where(
            SharePack.campaign_id == campaign.id, SharePack.manual_key == member_id
        )
    )
    if existing is not None:
        raise errors.has_pack()
    pack = await _new_pack(ctx, campaign, member_id, now)
    if pack is None:
        # The budget went meanwhile, or a second tap of the same member won the unique key.
        await ctx.session.refresh(campaign)
        raise errors.over_budget() if phase_of(campaign, now) == "spent" else errors.has_pack()
    return pack


# ---- sharing -------------------------------------------------------------------------------


async def own_pack(ctx: TenantContext, member_id: str, pack_id: str) -> SharePack:
    """The member's own pack, or 404 (another member's or another store's id included)."""
    pack = None
    if len(pack_id) <= ID_LENGTH:
        pack = await ctx.session.scalar(
            select(SharePack).where(SharePack.id == pack_id, SharePack.sharer_id == member_id)
        )
    if pack is None:
        raise errors.pack_not_found()
    return pack


async def share(ctx: TenantContext, secret: str, member_id: str, pack_id: str) -> s.ShareOut:
    """The pack's share token and the mini-program path to share. The first share records
    when it was shared (the "shared" figure); later ones return the same token."""
    pack = await own_pack(ctx, member_id, pack_id)
    now = utcnow()
    if pack.status == "void":
        raise errors.pack_void()
    if pack.expires_at <= now:
        raise errors.pack_expired()
    campaign = await get_campaign(ctx, pack.campaign_id)
    token = share_token(secret, ctx.tenant_id, pack)
    digest = token_hash(token)
    if pack.token_hash != digest:  # the first share (or the deployment's secret changed)
        pack.token_hash = digest
    if pack.shared_at is None:
        pack.shared_at, pack.shared_day = now, day_of(now)
    await ctx.session.flush()
    query = f"t={token}"
    return s.ShareOut(
        token=token,
        title=campaign.title,
        path=f"/{settings_of(ctx.tenant).share_page}?{query}",
        query=query,
        expires_at=pack.expires_at,
    )
