"""A friend claims a coupon from a shared pack.

The checks that need no lock come first, on a read-only snapshot (the token, own pack, the
pack's and the campaign's state, an earlier claim, the budget, eligibility): a tap on an
empty pack costs a few reads and never a write transaction. The others pass an in-process
admission gate per campaign (``core.admission``: a few at a time per process wait on the
database, the rest in memory rather than on a pooled connection or a row lock), then check
everything again in their transaction and write, in this order (see ``packs`` for why):

1. ``UPDATE sharecoupon_packs SET claimed = claimed + 1 WHERE … claimed < size AND
   status = 'active' AND expires_at > now``: of twenty friends racing for the last two
   coupons the database lets two through (``sharecoupon.pack_empty`` for the others);
2. ``UPDATE sharecoupon_campaigns SET claims = claims + 1 WHERE … claims < max_claims``:
   the campaign's claims budget (``sharecoupon.over_budget``);
3. the coupon, issued by the core coupons engine (``source="sharecoupon"``);
4. the claim row: the unique keys ``(pack, member)`` and, when the campaign allows one per
   member, ``(campaign, once_key)`` settle a member's two taps at once, and the sharer's
   notice (``sharecoupon.claimed``);
5. the sharer's reward, when this claim is the K-th.

Steps 2 and 3 lock rows every claim of the campaign needs (the campaign's, the template's),
so they come last, after every read. Any refusal raises and the transaction rolls back every
step, so the pack's count always equals the coupons issued from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from core.admission import gate
from core.catalog.storefront import read_context
from core.context import Principal, TenantContext, TenantInfo
from core.coupons import service as coupons
from core.coupons.models import CouponTemplate
from core.db import utcnow
from core.errors import AppError
from core.members.models import Member
from core.orders.models import Order
from core.runtime import Runtime
from plugins.sharecoupon import errors, notices, rewards
from plugins.sharecoupon import schemas as s
from plugins.sharecoupon.models import ShareCampaign, ShareClaim, SharePack, ShareReferral
from plugins.sharecoupon.rules import (
    PLUGIN,
    SOURCE,
    day_of,
    get_campaign,
    in_window,
    pack_of_token,
    settings_of,
)
from plugins.sharecoupon.service import pack_status

# Claims of one campaign writing at a time per process: they queue on the campaign's and the
# template's rows anyway, so more would only hold pooled connections while they wait.
ADMISSION = 4
# The coupons engine's refusals that mean "nothing left to give" for a claim.
OUT_OF_COUPONS = frozenset({"coupon.sold_out", "coupon.not_claimable", "coupon.not_found"})


async def coupon_brief(ctx: TenantContext, template_id: str) -> s.CouponBrief:
    template = await ctx.session.get(CouponTemplate, (ctx.tenant_id, template_id))
    if template is None:  # a template is never deleted while a campaign names it
        return s.CouponBrief(template_id=template_id, name="", label="")
    return s.CouponBrief(
        template_id=template.id, name=template.name, label=coupons.template_label(template)
    )


async def claimers(ctx: TenantContext, pack_id: str, limit: int) -> list[s.Claimer]:
    """The pack's claimers, newest first, as a nickname and an avatar only."""
    if limit <= 0:
        return []
    rows = await ctx.session.execute(
        select(Member.nickname, Member.avatar_url, ShareClaim.created_at)
        .join(
            Member,
            and_(Member.tenant_id == ShareClaim.tenant_id, Member.id == ShareClaim.member_id),
        )
        .where(ShareClaim.pack_id == pack_id)
        .order_by(ShareClaim.created_at.desc(), ShareClaim.id.desc())
        .limit(limit)
    )
    return [
        s.Claimer(nickname=nickname, avatar_url=avatar, claimed_at=at)
        for nickname, avatar, at in rows
    ]


async def share_page(ctx: TenantContext, token: str) -> s.SharePage:
    pack = await pack_of_token(ctx, token)
    campaign = await get_campaign(ctx, pack.campaign_id)
    now = utcnow()
    return s.SharePage(
        server_time=now,
        title=campaign.title,
        coupon=await coupon_brief(ctx, campaign.template_id),
        size=pack.size,
        left=pack.size - pack.claimed,
        status=pack_status(pack, now),
        expires_at=pack.expires_at,
        claimers=await claimers(ctx, pack.id, settings_of(ctx.tenant).claimers_shown),
    )


# ---- claiming ------------------------------------------------------------------------------


async def _eligible(
    ctx: TenantContext, campaign: ShareCampaign, member_id: str, now: datetime
) -> bool:
    if campaign.claimers == "anyone":
        return True
    paid = select(Order.id).where(Order.member_id == member_id, Order.paid_at.is_not(None))
    if campaign.claimers == "dormant":
        paid = paid.where(Order.paid_at > now - timedelta(days=campaign.dormant_days))
    return await ctx.session.scalar(paid.limit(1)) is None


def _refusal(pack: SharePack, now: datetime) -> AppError:
    if pack.status == "void":
        return errors.pack_void()
    if pack.claimed >= pack.size:
        return errors.pack_empty()
    if pack.expires_at <= now:
        return errors.pack_expired()
    return errors.pack_empty()


async def _check(
    ctx: TenantContext, pack: SharePack, campaign: ShareCampaign, member_id: str, now: datetime
) -> None:
    """The refusals that need no lock, cheapest first."""
    if pack.sharer_id == member_id:
        raise errors.own_pack()
    if pack.status == "void" or pack.claimed >= pack.size or pack.expires_at <= now:
        raise _refusal(pack, now)
    if not in_window(campaign, now):
        raise errors.campaign_ended()
    before = select(ShareClaim.pack_id).where(ShareClaim.member_id == member_id)
    if campaign.one_per_campaign:
        before = before.where(ShareClaim.campaign_id == campaign.id)
    else:
        before = before.where(ShareClaim.pack_id == pack.id)
    if await ctx.session.scalar(before.limit(1)) is not None:
        raise errors.already_claimed(campaign.one_per_campaign)
    if campaign.max_claims is not None and campaign.claims >= campaign.max_claims:
        raise errors.over_budget()
    if not await _eligible(ctx, campaign, member_id, now):
        raise errors.not_eligible(campaign.claimers, campaign.dormant_days)


async def _count_claim(ctx: TenantContext, campaign: ShareCampaign, now: datetime) -> None:
    counted = await ctx.session.scalar(
        update(ShareCampaign)
        .where(
            ShareCampaign.id == campaign.id,
            ShareCampaign.status == "active",
            or_(
                ShareCampaign.max_claims.is_(None), ShareCampaign.claims < ShareCampaign.max_claims
            ),
        )
        .values(claims=ShareCampaign.claims + 1, updated_at=ShareCampaign.updated_at)
        .returning(ShareCampaign.id)
        .execution_options(synchronize_session=False)
    )
    if counted is None:
        await ctx.session.refresh(campaign)
        raise errors.campaign_ended() if campaign.status != "active" else errors.over_budget()


async def _take_coupon(ctx: TenantContext, pack: SharePack, now: datetime) -> int:
    """One coupon of the pack; what is claimed afterwards."""
    claimed = await ctx.session.scalar(
        update(SharePack)
        .where(
            SharePack.id == pack.id,
            SharePack.status == "active",
            SharePack.claimed < SharePack.size,
            SharePack.expires_at > now,
        )
        .values(claimed=SharePack.claimed + 1)
        .returning(SharePack.claimed)
        .execution_options(synchronize_session=False)
    )
    if claimed is None:
        await ctx.session.refresh(pack)
        raise _refusal(pack, now)
    return int(claimed)


async def claim_as(rt: Runtime, tenant: TenantInfo, member: Principal, token: str) -> s.ClaimOut:
    """``POST /shares/{token}/claim``: the refusals from a snapshot, then the claim behind
    the campaign's admission gate in a transaction of its own."""
    async with read_context(rt, tenant) as snapshot:
        pack = await pack_of_token(snapshot, token)
        campaign = await get_campaign(snapshot, pack.campaign_id)
        await _check(snapshot, pack, campaign, member.id, utcnow())
        campaign_id = campaign.id
    async with (
        gate((PLUGIN, tenant.id, campaign_id), ADMISSION),
        rt.tenant_context(tenant, member) as ctx,
    ):
        return await claim(ctx, token, member.id)


async def claim(ctx: TenantContext, token: str, member_id: str) -> s.ClaimOut:
    """Claim in ``ctx``'s transaction: every check again and the reads, then the writes,
    the campaign-wide rows last so that their locks are held the shortest time."""
    pack = await pack_of_token(ctx, token)
    campaign = await get_campaign(ctx, pack.campaign_id)
    now = utcnow()
    await _check(ctx, pack, campaign, member_id, now)
    referred = await ctx.session.scalar(
        select(ShareReferral.id).where(
            ShareReferral.member_id == member_id, ShareReferral.pack_id == pack.id
        )
    )
    brief = await coupon_brief(ctx, campaign.template_id)
    friend = await ctx.session.scalar(select(Member.nickname).where(Member.id == member_id))
    claimed = await _take_coupon(ctx, pack, now)
    await _count_claim(ctx, campaign, now)
    valid_for = timedelta(days=campaign.coupon_valid_days) if campaign.coupon_valid_days else None
    try:
        coupon = await coupons.issue(
            ctx,
            campaign.template_id,
            member_id,
            source=SOURCE,
            respect_limit=False,  # the campaign's own rules say how many a member may claim
            valid_for=valid_for,
        )
    except AppError as exc:
        if exc.code in OUT_OF_COUPONS:
            raise errors.over_budget() from exc
        raise
    row = ShareClaim(
        pack_id=pack.id,
        campaign_id=campaign.id,
        member_id=member_id,
        coupon_id=coupon.id,
        once_key=member_id if campaign.one_per_campaign else None,
        new_member=referred is not None,
        day=day_of(now),
        created_at=now,
    )
    try:
        async with ctx.session.begin_nested():  # a failed flush must not end the transaction
            ctx.session.add(row)
    except IntegrityError:
        # A second tap of the same member that passed the checks at the same moment; the
        # request's transaction rolls back with this error, the pack's count included.
        raise errors.already_claimed(campaign.one_per_campaign) from None
    left = pack.size - claimed
    await notices.notify_claimed(ctx, campaign, pack, row.id, friend or "", left, now)
    if (
        campaign.reward_when == "claims"
        and campaign.reward_kind
        and claimed >= campaign.reward_claims
    ):
        await rewards.grant(ctx, campaign, pack.id)
    return s.ClaimOut(
        coupon_id=coupon.id,
        coupon=brief,
        valid_until=coupon.valid_until,
        left=left,
    )
