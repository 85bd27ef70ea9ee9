"""Coupons on the storefront: what a member may claim, claiming one, and the member's own
coupons with the status they read (``expired``: available, but its validity has ended)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from core.context import TenantContext
from core.coupons import schemas as s
from core.coupons.models import CouponTemplate, MemberCoupon
from core.coupons.service import (
    OF_TEMPLATE,
    display_status,
    in_stock,
    issue_claimed,
    remaining,
    status_filter,
    template_label,
)
from core.db import utcnow
from core.paging import Page, keyset_page_of, keyset_paged, page_of, paged


def member_coupon_out(
    coupon: MemberCoupon, template: CouponTemplate, now: datetime
) -> s.MemberCouponOut:
    return s.MemberCouponOut(
        id=coupon.id,
        template_id=template.id,
        name=template.name,
        description=template.description,
        kind=template.kind,
        label=template_label(template),
        amount=template.amount,
        percent_off=template.percent_off,
        max_discount=template.max_discount,
        min_spend=template.min_spend,
        scope=template.scope,
        scope_ids=list(template.scope_ids or []),
        status=display_status(coupon, now),
        source=coupon.source,
        order_id=coupon.order_id,
        valid_from=coupon.valid_from,
        valid_until=coupon.valid_until,
        claimed_at=coupon.claimed_at,
        used_at=coupon.used_at,
    )


async def claim(ctx: TenantContext, member_id: str, template_id: str) -> s.MemberCouponOut:
    """The member claims a claimable coupon themselves."""
    coupon = await issue_claimed(ctx, template_id, member_id)
    template = await ctx.session.get(CouponTemplate, (ctx.tenant_id, template_id))
    assert template is not None  # the UPDATE above found it
    return member_coupon_out(coupon, template, utcnow())


async def claimable(
    ctx: TenantContext, member_id: str, limit: int, cursor: str | None
) -> Page[s.ClaimableOut]:
    """Templates a member may claim now (active, claimable, in stock, in validity), oldest
    first, with how many the member holds already."""
    now = utcnow()
    query = select(CouponTemplate).where(CouponTemplate.claimable.is_(True), *in_stock(now))
    rows = (await ctx.session.scalars(paged(query, CouponTemplate.id, limit, cursor))).all()
    held: dict[str, int] = {}
    if rows:
        counts = await ctx.session.execute(
            select(MemberCoupon.template_id, func.count())
            .where(
                MemberCoupon.member_id == member_id,
                MemberCoupon.template_id.in_([t.id for t in rows[:limit]]),
            )
            .group_by(MemberCoupon.template_id)
        )
        held = {template_id: count for template_id, count in counts}

    def out(t: CouponTemplate) -> s.ClaimableOut:
        claimed = held.get(t.id, 0)
        return s.ClaimableOut(
            id=t.id,
            name=t.name,
            description=t.description,
            kind=t.kind,
            label=template_label(t),
            amount=t.amount,
            percent_off=t.percent_off,
            max_discount=t.max_discount,
            min_spend=t.min_spend,
            scope=t.scope,
            scope_ids=list(t.scope_ids or []),
            valid_from=t.valid_from,
            valid_until=t.valid_until,
            valid_days=t.valid_days,
            remaining=remaining(t),
            per_member_limit=t.per_member_limit,
            claimed=claimed,
            can_claim=claimed < t.per_member_limit,
        )

    return page_of(rows, limit, out, lambda t: t.id)


async def my_coupons(
    ctx: TenantContext,
    member_id: str,
    limit: int,
    cursor: str | None,
    status: s.CouponStatus | None = None,
) -> Page[s.MemberCouponOut]:
    """The member's coupons, newest first."""
    now = utcnow()
    query = (
        select(MemberCoupon, CouponTemplate)
        .join(CouponTemplate, OF_TEMPLATE)
        .where(MemberCoupon.member_id == member_id)
    )
    if status is not None:
        query = query.where(status_filter(status, now))
    rows = (
        await ctx.session.execute(
            keyset_paged(query, [(MemberCoupon.id, True)], limit, cursor, "mc")
        )
    ).all()
    return keyset_page_of(
        rows,
        limit,
        lambda row: member_coupon_out(row[0], row[1], now),
        lambda row: [row[0].id],
        "mc",
    )
