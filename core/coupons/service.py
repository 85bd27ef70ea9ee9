"""The coupons engine's rules: issuing a coupon (claims, the merchant, plugins), the coupons
a cart may use, and a coupon's life with its order. What members and merchants read is in
``core.coupons.storefront`` and ``core.coupons.admin``.

Issuing is one conditional UPDATE of the template's ``issued_count`` (active, in stock, still
valid) and, for the per-member limit, a COUNT of the member's coupons of that template made
*after* it: on PostgreSQL the UPDATE's row lock is held until the commit, so claims of one
template are serialised and the count cannot be stale; SQLite serialises every writer. Nothing
is read and then written.

A member coupon moves available → locked (an unpaid order holds it) → used (the order was
paid); a cancelled order gives a locked coupon back, a wholly refunded order a used one. Each
move is a conditional UPDATE on (order, status), so a repeated event changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update

from core.catalog.service import descendants, parent_map
from core.context import TenantContext
from core.coupons import schemas as s
from core.coupons.models import CouponTemplate, MemberCoupon
from core.coupons.pricing import CouponsData, CouponTerms, label
from core.db import utcnow
from core.errors import Conflict, NotFound
from core.members.models import Member

# Usable coupons a cart considers at most (soonest to expire first; a chosen one always).
MAX_CANDIDATES = 200
# The join of a member coupon with its template (composite keys: tenant and id).
OF_TEMPLATE = and_(
    CouponTemplate.tenant_id == MemberCoupon.tenant_id,
    CouponTemplate.id == MemberCoupon.template_id,
)


def template_label(t: CouponTemplate) -> str:
    return label(t.kind, t.amount, t.percent_off, t.min_spend)


def remaining(t: CouponTemplate) -> int | None:
    return None if t.total_stock is None else max(t.total_stock - t.issued_count, 0)


def display_status(coupon: MemberCoupon, now: datetime) -> s.CouponStatus:
    if coupon.status == "used":
        return "used"
    if coupon.status == "locked":
        return "locked"
    return "expired" if coupon.valid_until <= now else "available"


def status_filter(status: s.CouponStatus, now: datetime) -> ColumnElement[bool]:
    if status == "available":
        return and_(MemberCoupon.status == "available", MemberCoupon.valid_until > now)
    if status == "expired":
        return and_(MemberCoupon.status == "available", MemberCoupon.valid_until <= now)
    return MemberCoupon.status == status


def in_stock(now: datetime) -> list[ColumnElement[bool]]:
    return [
        CouponTemplate.status == "active",
        or_(
            CouponTemplate.total_stock.is_(None),
            CouponTemplate.issued_count < CouponTemplate.total_stock,
        ),
        or_(CouponTemplate.valid_until.is_(None), CouponTemplate.valid_until > now),
    ]


# ---- issuing ------------------------------------------------------------------------------


async def _refusal(ctx: TenantContext, template_id: str, *, claim: bool) -> Exception:
    """Why the conditional UPDATE matched nothing (read again for the message only)."""
    template = await ctx.session.get(
        CouponTemplate, (ctx.tenant_id, template_id), populate_existing=True
    )
    if template is None:
        return NotFound("no such coupon", code="coupon.not_found")
    ended = template.valid_until is not None and template.valid_until <= utcnow()
    if template.status != "active" or ended or (claim and not template.claimable):
        return Conflict("this coupon is no longer handed out", code="coupon.not_claimable")
    return Conflict("this coupon is sold out", code="coupon.sold_out")


async def _issue(
    ctx: TenantContext,
    template_id: str,
    member_id: str,
    *,
    source: str,
    respect_limit: bool,
    claim: bool,
    valid_for: timedelta | None = None,
) -> MemberCoupon:
    now = utcnow()
    # A savepoint: a refusal undoes this one issue only (a bulk issue goes on with the next).
    async with ctx.session.begin_nested():
        conditions = [CouponTemplate.id == template_id, *in_stock(now)]
        if claim:
            conditions.append(CouponTemplate.claimable.is_(True))
        taken = (
            await ctx.session.execute(
                update(CouponTemplate)
                .where(*conditions)
                # updated_at kept: it records the merchant's edits, not the claims
                .values(
                    issued_count=CouponTemplate.issued_count + 1,
                    updated_at=CouponTemplate.updated_at,
                )
                .returning(
                    CouponTemplate.valid_from,
                    CouponTemplate.valid_until,
                    CouponTemplate.valid_days,
                    CouponTemplate.per_member_limit,
                )
                .execution_options(synchronize_session=False)
            )
        ).first()
        if taken is None:
            raise await _refusal(ctx, template_id, claim=claim)
        valid_from, valid_until, valid_days, limit = taken
        if respect_limit:
            held = await ctx.session.scalar(
                select(func.count())
                .select_from(MemberCoupon)
                .where(MemberCoupon.template_id == template_id, MemberCoupon.member_id == member_id)
            )
            if (held or 0) >= limit:
                raise Conflict(
                    f"at most {limit} of this coupon per member", code="coupon.limit_reached"
                )
        if valid_days is not None:
            valid_from, valid_until = now, now + timedelta(days=valid_days)
        if valid_for is not None and (valid_until is None or now + valid_for < valid_until):
            valid_until = now + valid_for
        coupon = MemberCoupon(
            template_id=template_id,
            member_id=member_id,
            status="available",
            valid_from=valid_from or now,
            valid_until=valid_until,
            source=source[:40],
            claimed_at=now,
        )
        ctx.session.add(coupon)
        await ctx.session.flush()
    return coupon


async def issue(
    ctx: TenantContext,
    template_id: str,
    member_id: str,
    *,
    source: str,
    respect_limit: bool = True,
    valid_for: timedelta | None = None,
) -> MemberCoupon:
    """Give ``member_id`` a coupon of ``template_id`` (an active template with stock left, in
    its validity; claimable or not), in ``ctx.session``. ``source`` says who gave it
    (``issue``, ``claim``, or the plugin's name); ``valid_for`` shortens the coupon's life to
    that long from now (never past the template's own end). Raises 404 ``member.not_found`` /
    ``coupon.not_found``, 409 ``coupon.sold_out`` / ``coupon.not_claimable`` /
    ``coupon.limit_reached`` (``respect_limit=False`` skips the per-member limit, never the
    stock); a refusal changes nothing, so the caller may go on."""
    if await ctx.session.get(Member, (ctx.tenant_id, member_id)) is None:
        raise NotFound("no such member", code="member.not_found")
    return await _issue(
        ctx,
        template_id,
        member_id,
        source=source,
        respect_limit=respect_limit,
        claim=False,
        valid_for=valid_for,
    )


async def issue_claimed(ctx: TenantContext, template_id: str, member_id: str) -> MemberCoupon:
    """``issue`` for the signed-in member claiming a claimable template themselves."""
    return await _issue(ctx, template_id, member_id, source="claim", respect_limit=True, claim=True)


async def issue_checked(ctx: TenantContext, template_id: str, member_id: str) -> MemberCoupon:
    """``issue`` for a member the caller has already found (the merchant's bulk issue)."""
    return await _issue(
        ctx, template_id, member_id, source="issue", respect_limit=True, claim=False
    )


# ---- the cart -----------------------------------------------------------------------------


def _terms(coupon: MemberCoupon, t: CouponTemplate, scope_ids: frozenset[str]) -> CouponTerms:
    return CouponTerms(
        id=coupon.id,
        template_id=t.id,
        name=t.name,
        kind=t.kind,
        amount=t.amount,
        percent_off=t.percent_off,
        max_discount=t.max_discount,
        min_spend=t.min_spend,
        scope=t.scope,
        scope_ids=scope_ids,
        valid_until=coupon.valid_until,
    )


async def usable_coupons(ctx: TenantContext, member_id: str, chosen: Any) -> CouponsData:
    """The member's coupons usable now (available, in validity, template active), in one
    query; category scopes are widened to their subcategories (one more query, if any)."""
    now = utcnow()
    first = MemberCoupon.id == chosen if isinstance(chosen, str) and chosen else None
    query = (
        select(MemberCoupon, CouponTemplate)
        .join(CouponTemplate, OF_TEMPLATE)
        .where(
            MemberCoupon.member_id == member_id,
            MemberCoupon.status == "available",
            MemberCoupon.valid_from <= now,
            MemberCoupon.valid_until > now,
            CouponTemplate.status == "active",
        )
        .order_by(
            *([case((first, 0), else_=1)] if first is not None else []),
            MemberCoupon.valid_until,
            MemberCoupon.id,
        )
        .limit(MAX_CANDIDATES)
    )
    rows: Sequence[Any] = (await ctx.session.execute(query)).all()
    parents: dict[str, str | None] = {}
    if any(t.scope == "categories" for _, t in rows):
        parents = await parent_map(ctx)
    coupons = []
    for coupon, t in rows:
        ids = frozenset(str(i) for i in t.scope_ids or [])
        if t.scope == "categories":
            ids = frozenset().union(*(descendants(parents, i) for i in ids if i in parents))
        coupons.append(_terms(coupon, t, ids))
    return CouponsData(coupons=tuple(coupons))


# ---- with its order -----------------------------------------------------------------------


async def lock(ctx: TenantContext, coupon_id: str, member_id: str, order_id: str) -> None:
    """The order being placed holds the coupon; 409 ``coupon.unavailable`` if another order
    got it first (or it expired meanwhile): the whole placement rolls back."""
    now = utcnow()
    locked = await ctx.session.scalar(
        update(MemberCoupon)
        .where(
            MemberCoupon.id == coupon_id,
            MemberCoupon.member_id == member_id,
            MemberCoupon.status == "available",
            MemberCoupon.valid_until > now,
        )
        .values(status="locked", order_id=order_id, locked_at=now)
        .returning(MemberCoupon.id)
        .execution_options(synchronize_session=False)
    )
    if locked is None:
        raise Conflict(
            "this coupon is no longer available (another order took it)",
            code="coupon.unavailable",
        )


async def _count_used(ctx: TenantContext, template_ids: Sequence[str], delta: int) -> None:
    for template_id in sorted(template_ids):  # a fixed order: no deadlock between two orders
        await ctx.session.execute(
            update(CouponTemplate)
            .where(CouponTemplate.id == template_id, CouponTemplate.used_count + delta >= 0)
            .values(
                used_count=CouponTemplate.used_count + delta,
                updated_at=CouponTemplate.updated_at,
            )
            .execution_options(synchronize_session=False)
        )


async def consume(ctx: TenantContext, order_id: str) -> None:
    """The order was paid: its locked coupon is used."""
    used = await ctx.session.execute(
        update(MemberCoupon)
        .where(MemberCoupon.order_id == order_id, MemberCoupon.status == "locked")
        .values(status="used", used_at=utcnow())
        .returning(MemberCoupon.template_id)
        .execution_options(synchronize_session=False)
    )
    await _count_used(ctx, list(used.scalars().all()), +1)


async def release(ctx: TenantContext, order_id: str) -> None:
    """The unpaid order was cancelled: its coupon is the member's again."""
    await ctx.session.execute(
        update(MemberCoupon)
        .where(MemberCoupon.order_id == order_id, MemberCoupon.status == "locked")
        .values(status="available", order_id=None, locked_at=None)
        .execution_options(synchronize_session=False)
    )


async def give_back(ctx: TenantContext, order_id: str) -> None:
    """The paid order was wholly refunded: its used coupon is the member's again (usable
    until its own validity ends) and no longer counts as used."""
    returned = await ctx.session.execute(
        update(MemberCoupon)
        .where(MemberCoupon.order_id == order_id, MemberCoupon.status == "used")
        .values(status="available", order_id=None, locked_at=None, used_at=None)
        .returning(MemberCoupon.template_id)
        .execution_options(synchronize_session=False)
    )
    await _count_used(ctx, list(returned.scalars().all()), -1)
