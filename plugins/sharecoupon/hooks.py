"""The share coupon's hooks on orders and members.

- ``order_paid``: first, a paid order that used a claimed coupon is recorded on the claim
  (the order, what was paid, what the coupon took off: what analytics counts as the share
  coupon's GMV) and, for a "first use" reward, the sharer's reward is granted; then the
  order unlocks its pack (``packs.issue_for_order``).
- ``order_refunded``: the order's pack is voided (see ``packs``).
- ``analytics_contributions``: the paid orders that used a claimed coupon, with the amount
  and discount recorded on the claim, are the share coupon's contribution to the store's
  analytics.
- ``member_registered``: a member who arrived through a share (``source="share"``,
  ``source_ref="sharecoupon:<token>"``) is recorded as that sharer's referral, and the
  member's ``source_ref`` becomes the sharer's member id: the token is never kept in clear.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, select

from core.analytics.facts import Contribution, OrderFacts
from core.context import TenantContext
from core.coupons.models import MemberCoupon
from core.db import utcnow
from core.errors import AppError
from core.members.models import Member
from core.orders.models import Order
from plugins.sharecoupon import packs, rewards
from plugins.sharecoupon.models import ShareClaim, ShareReferral
from plugins.sharecoupon.rules import PLUGIN, REF_PREFIX, day_of, get_campaign, pack_of_token


def _discount(order: Order, coupon_id: str) -> int:
    source = f"coupon:{coupon_id}"
    return -sum(int(a.get("amount", 0)) for a in order.adjustments if a.get("source") == source)


async def _record_use(ctx: TenantContext, order: Order) -> None:
    claims = (
        await ctx.session.scalars(
            select(ShareClaim)
            .join(
                MemberCoupon,
                and_(
                    MemberCoupon.tenant_id == ShareClaim.tenant_id,
                    MemberCoupon.id == ShareClaim.coupon_id,
                ),
            )
            .where(MemberCoupon.order_id == order.id)
        )
    ).all()
    now = utcnow()
    for claim in claims:
        claim.order_id = order.id
        claim.order_amount = order.paid_amount
        claim.discount = _discount(order, claim.coupon_id)
        claim.used_at, claim.used_day = now, day_of(now)
        await ctx.session.flush()
        campaign = await get_campaign(ctx, claim.campaign_id)
        if campaign.reward_kind and campaign.reward_when == "first_use":
            await rewards.grant(ctx, campaign, claim.pack_id)


async def order_paid(ctx: TenantContext, order: Order) -> None:
    await _record_use(ctx, order)
    await packs.issue_for_order(ctx, order)


async def contributions(ctx: TenantContext, orders: Sequence[OrderFacts]) -> list[Contribution]:
    """One query for the batch: the claims these orders used."""
    used = await ctx.session.execute(
        select(ShareClaim.order_id, ShareClaim.order_amount, ShareClaim.discount).where(
            ShareClaim.order_id.in_([o.id for o in orders])
        )
    )
    return [
        Contribution(source=PLUGIN, order_id=order_id, gmv=amount, benefit=discount)
        for order_id, amount, discount in used
        if order_id is not None
    ]


async def order_refunded(ctx: TenantContext, order: Order) -> None:
    await packs.void_for_order(ctx, order)


async def member_registered(
    ctx: TenantContext, member: Member, source: str, source_ref: str
) -> None:
    if source != "share" or not source_ref.startswith(REF_PREFIX):
        return
    try:
        pack = await pack_of_token(ctx, source_ref.removeprefix(REF_PREFIX))
    except AppError:
        member.source_ref = ""  # a token of no pack names no one
        return
    now = utcnow()
    member.source_ref = pack.sharer_id
    ctx.session.add(
        ShareReferral(
            member_id=member.id,
            sharer_id=pack.sharer_id,
            pack_id=pack.id,
            campaign_id=pack.campaign_id,
            day=day_of(now),
            created_at=now,
        )
    )
    await ctx.session.flush()
