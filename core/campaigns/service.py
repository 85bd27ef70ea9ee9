"""Targeted campaigns: choose an audience, launch, and a job issues one coupon to each member
through the coupons engine (``core.coupons.service.issue``).

Launching snapshots the audience into recipient rows with one INSERT … SELECT, in the
launch's transaction, and the move ``draft → running`` is a conditional UPDATE, so a campaign
is launched once. Issuing goes a batch of recipients at a time, each batch one transaction:
a row's ``pending → issued`` UPDATE and its coupon commit together or not at all (see
``core.campaigns.models``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import String, and_, func, insert, literal, select, update

from core.analytics.models import MemberRfm
from core.analytics.rfm import purchases
from core.auth import require_staff
from core.campaigns import schemas as s
from core.campaigns.models import Campaign, CampaignRecipient
from core.context import TenantContext
from core.coupons import service as coupons
from core.coupons.models import CouponTemplate, MemberCoupon
from core.db import utcnow
from core.errors import AppError, Conflict, Invalid, NotFound
from core.members.admin import has_tag
from core.members.models import Member
from core.notifications.events import EventField, NotificationEvent
from core.notifications.service import notify
from core.orders.models import Order
from core.paging import Page, page_of, paged

RUN_JOB = "campaigns.run"
# The subscribe message a campaign may send with its coupon (``notify``).
COUPON_NOTICE = NotificationEvent(
    name="campaign.coupon",
    title="优惠券到账",
    description="A campaign gave the member a coupon (sent only if the campaign asks).",
    fields=(
        EventField("coupon", "优惠券", example="回流立减券"),
        EventField("benefit", "优惠内容", example="满30减5"),
        EventField("campaign", "活动名称", example="老客回流礼"),
        EventField("expires_at", "到期时间", kind="datetime", example="2026年12月31日 23:59"),
    ),
    page="pages/coupons/index",
)
BATCH = 200  # recipients per transaction
SOURCE = "campaign"  # the coupons' source


def run_key(tenant_id: str, campaign_id: str) -> str:
    return f"{RUN_JOB}:{tenant_id}:{campaign_id}"


def audience_query(ctx: TenantContext, audience: s.Audience) -> Any:
    """The member ids of an audience, as one SELECT (explicit tenant: it feeds an INSERT …
    SELECT, which the ORM's tenant filter does not reach)."""
    tenant_id = ctx.tenant_id
    if isinstance(audience, s.SegmentAudience):
        return select(MemberRfm.member_id).where(
            MemberRfm.tenant_id == tenant_id, MemberRfm.segment == audience.segment
        )
    if isinstance(audience, s.TagAudience):
        return select(Member.id).where(Member.tenant_id == tenant_id, has_tag(ctx, audience.tag))
    having = []
    if audience.inactive_days is not None:
        having.append(func.max(Order.paid_at) < utcnow() - timedelta(days=audience.inactive_days))
    if audience.spent_over is not None:
        having.append(func.sum(Order.paid_amount - Order.refunded_amount) > audience.spent_over)
    return (
        select(Order.member_id)
        .where(purchases(tenant_id))
        .group_by(Order.member_id)
        .having(*having)
    )


def _check_audience(audience: s.Audience) -> None:
    if isinstance(audience, s.FilterAudience) and (
        audience.inactive_days is None and audience.spent_over is None
    ):
        raise Invalid(
            "a filter needs inactive_days, spent_over or both", code="campaign.empty_filter"
        )


async def audience_size(ctx: TenantContext, audience: s.Audience) -> int:
    require_staff(ctx, "manager")
    _check_audience(audience)
    members = audience_query(ctx, audience).subquery()
    return int(await ctx.session.scalar(select(func.count()).select_from(members)) or 0)


async def _campaign(ctx: TenantContext, campaign_id: str) -> Campaign:
    campaign = await ctx.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    if campaign is None:
        raise NotFound("no such campaign", code="campaign.not_found")
    return campaign


async def _results(ctx: TenantContext, campaign: Campaign) -> s.Results:
    counts: dict[tuple[str, str], int] = {
        (status, reason): int(n)
        for status, reason, n in await ctx.session.execute(
            select(CampaignRecipient.status, CampaignRecipient.reason, func.count())
            .where(CampaignRecipient.campaign_id == campaign.id)
            .group_by(CampaignRecipient.status, CampaignRecipient.reason)
        )
    }
    used, gmv, refunded = (
        await ctx.session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(Order.paid_amount), 0),
                func.coalesce(func.sum(Order.refunded_amount), 0),
            )
            .select_from(CampaignRecipient)
            .join(
                MemberCoupon,
                and_(
                    MemberCoupon.tenant_id == CampaignRecipient.tenant_id,
                    MemberCoupon.id == CampaignRecipient.coupon_id,
                ),
            )
            .join(
                Order,
                and_(Order.tenant_id == MemberCoupon.tenant_id, Order.id == MemberCoupon.order_id),
            )
            .where(CampaignRecipient.campaign_id == campaign.id, MemberCoupon.status == "used")
        )
    ).one()
    by_status = {
        status: sum(n for (st, _), n in counts.items() if st == status)
        for status in ("pending", "issued", "skipped")
    }
    return s.Results(
        targeted=sum(counts.values()),
        pending=by_status["pending"],
        issued=by_status["issued"],
        skipped={reason: n for (st, reason), n in counts.items() if st == "skipped"},
        used=int(used),
        gmv=int(gmv),
        refunded=int(refunded),
    )


async def _out(ctx: TenantContext, campaign: Campaign, results: bool = True) -> s.CampaignOut:
    audience = msgspec.convert(campaign.audience, s.Audience)
    found = (
        await _results(ctx, campaign)
        if results
        else s.Results(targeted=0, pending=0, issued=0, skipped={}, used=0, gmv=0, refunded=0)
    )
    size = campaign.targeted if campaign.status != "draft" else await audience_size(ctx, audience)
    return s.CampaignOut(
        id=campaign.id,
        name=campaign.name,
        template_id=campaign.template_id,
        audience=audience,
        notify=campaign.notify,
        status=campaign.status,  # type: ignore[arg-type]
        created_at=campaign.created_at,
        launched_at=campaign.launched_at,
        finished_at=campaign.finished_at,
        audience_size=size,
        results=found,
    )


async def create(ctx: TenantContext, data: s.CampaignIn) -> s.CampaignOut:
    principal = require_staff(ctx, "manager")
    _check_audience(data.audience)
    template = await ctx.session.get(CouponTemplate, (ctx.tenant_id, data.template_id))
    if template is None:
        raise NotFound("no such coupon", code="coupon.not_found")
    if template.status != "active":
        raise Conflict("this coupon is stopped", code="coupon.not_claimable")
    campaign = Campaign(
        name=data.name,
        template_id=data.template_id,
        audience=msgspec.to_builtins(data.audience),
        notify=data.notify,
        created_by=f"{principal.kind}:{principal.id}",
    )
    ctx.session.add(campaign)
    await ctx.session.flush()
    return await _out(ctx, campaign, results=False)


async def get(ctx: TenantContext, campaign_id: str) -> s.CampaignOut:
    require_staff(ctx, "manager")
    return await _out(ctx, await _campaign(ctx, campaign_id))


async def list_campaigns(ctx: TenantContext, limit: int, cursor: str | None) -> Page[s.CampaignOut]:
    require_staff(ctx, "manager")
    rows = (await ctx.session.scalars(paged(select(Campaign), Campaign.id, limit, cursor))).all()
    outs = {c.id: await _out(ctx, c) for c in rows[:limit]}
    return page_of(rows, limit, lambda c: outs[c.id], lambda c: c.id)


async def launch(ctx: TenantContext, campaign_id: str) -> s.CampaignOut:
    """``draft → running``: snapshot the audience and queue the job (after the commit)."""
    require_staff(ctx, "manager")
    campaign = await start(ctx, campaign_id)
    await ctx.jobs.enqueue(
        RUN_JOB,
        key=run_key(ctx.tenant_id, campaign_id),
        tenant_id=ctx.tenant_id,
        campaign_id=campaign_id,
    )
    return await _out(ctx, campaign)


async def start(ctx: TenantContext, campaign_id: str) -> Campaign:
    """The launch without its job: ``draft → running`` (409 ``campaign.already_launched``)
    and the audience snapshotted as pending recipients."""
    campaign = await _campaign(ctx, campaign_id)
    now = utcnow()
    launched = await ctx.session.scalar(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == "draft")
        .values(status="running", launched_at=now)
        .returning(Campaign.id)
        .execution_options(synchronize_session=False)
    )
    if launched is None:
        raise Conflict("this campaign was launched already", code="campaign.already_launched")
    audience = msgspec.convert(campaign.audience, s.Audience)
    members = audience_query(ctx, audience).subquery()
    await ctx.session.execute(
        insert(CampaignRecipient).from_select(
            ["tenant_id", "campaign_id", "member_id", "status", "reason"],
            select(
                literal(ctx.tenant_id, String),
                literal(campaign_id, String),
                members.c[0],
                literal("pending", String),
                literal("", String),
            ),
        )
    )
    targeted = await ctx.session.scalar(
        select(func.count())
        .select_from(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign_id)
    )
    await ctx.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(targeted=int(targeted or 0))
        .execution_options(synchronize_session=False)
    )
    await ctx.session.refresh(campaign)
    return campaign


async def recipients(
    ctx: TenantContext,
    campaign_id: str,
    limit: int,
    cursor: str | None,
    status: s.RecipientStatus | None = None,
) -> Page[s.RecipientOut]:
    require_staff(ctx, "manager")
    await _campaign(ctx, campaign_id)
    query = select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
    if status is not None:
        query = query.where(CampaignRecipient.status == status)
    rows = (
        await ctx.session.scalars(paged(query, CampaignRecipient.member_id, limit, cursor))
    ).all()
    coupon_ids = [r.coupon_id for r in rows if r.coupon_id]
    coupon_status: dict[str, str] = (
        dict(
            (
                await ctx.session.execute(
                    select(MemberCoupon.id, MemberCoupon.status).where(
                        MemberCoupon.id.in_(coupon_ids)
                    )
                )
            ).all()
        )
        if coupon_ids
        else {}
    )

    def out(recipient: CampaignRecipient) -> s.RecipientOut:
        return s.RecipientOut(
            member_id=recipient.member_id,
            status=recipient.status,  # type: ignore[arg-type]
            coupon_id=recipient.coupon_id,
            coupon_status=coupon_status.get(recipient.coupon_id or ""),
            reason=recipient.reason,
            processed_at=recipient.processed_at,
        )

    return page_of(rows, limit, out, lambda r: r.member_id)


# ---- issuing (the job) ---------------------------------------------------------------------

# A member the engine refuses is skipped with the reason; anything else fails the batch.
SKIPPED = (
    "coupon.limit_reached",
    "coupon.sold_out",
    "coupon.not_claimable",
    "coupon.not_found",
    "member.not_found",
)


async def pending_batch(ctx: TenantContext, campaign_id: str, size: int = BATCH) -> Sequence[str]:
    return (
        await ctx.session.scalars(
            select(CampaignRecipient.member_id)
            .where(
                CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.status == "pending"
            )
            .order_by(CampaignRecipient.member_id)
            .limit(size)
        )
    ).all()


async def issue_batch(ctx: TenantContext, campaign: Campaign, member_ids: Sequence[str]) -> int:
    """Issue to these recipients, in ``ctx``'s transaction; returns the coupons issued. Each
    row is taken with a conditional UPDATE first: a row another run took is left alone."""
    issued = 0
    now = utcnow()
    template = await ctx.session.get(CouponTemplate, (ctx.tenant_id, campaign.template_id))
    for member_id in member_ids:
        mine = await ctx.session.scalar(
            update(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign.id,
                CampaignRecipient.member_id == member_id,
                CampaignRecipient.status == "pending",
            )
            .values(status="issued", processed_at=now)
            .returning(CampaignRecipient.member_id)
            .execution_options(synchronize_session=False)
        )
        if mine is None:
            continue
        values: dict[str, Any]
        try:
            coupon = await coupons.issue(ctx, campaign.template_id, member_id, source=SOURCE)
        except AppError as refused:
            if refused.code not in SKIPPED:
                raise
            values = {"status": "skipped", "reason": refused.code}
        else:
            values = {"coupon_id": coupon.id}
            issued += 1
            if campaign.notify and template is not None:
                await notify(
                    ctx,
                    COUPON_NOTICE.name,
                    member_id=member_id,
                    values={
                        "coupon": template.name,
                        "benefit": coupons.template_label(template),
                        "campaign": campaign.name,
                        "expires_at": coupon.valid_until,
                    },
                    ref=campaign.id,
                    key=f"{COUPON_NOTICE.name}:{campaign.id}:{member_id}",
                )
        await ctx.session.execute(
            update(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign.id,
                CampaignRecipient.member_id == member_id,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return issued


async def finish(ctx: TenantContext, campaign_id: str) -> bool:
    """``running → done`` once nothing is pending."""
    left = await ctx.session.scalar(
        select(func.count())
        .select_from(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.status == "pending")
    )
    if left:
        return False
    done = await ctx.session.scalar(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == "running")
        .values(status="done", finished_at=utcnow())
        .returning(Campaign.id)
        .execution_options(synchronize_session=False)
    )
    return done is not None
