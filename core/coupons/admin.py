"""Coupons on the merchant side: designing templates, changing them, issuing coupons to
members or a member tag, and the claim/use counts.

Clerks read; managers and owners write. A template's terms (kind, amounts, scope, validity)
are fixed once created, since members already hold coupons made from them; its name,
description, stock, claimability and status may change.
"""

from __future__ import annotations

from msgspec import UNSET
from sqlalchemy import select, update

from core.auth import require_staff
from core.catalog.models import Category, Product
from core.context import TenantContext
from core.coupons import schemas as s
from core.coupons import service
from core.coupons.models import CouponTemplate, MemberCoupon
from core.coupons.validation import check_template
from core.db import utcnow
from core.errors import AppError, Conflict, FieldError, Invalid, NotFound
from core.members.admin import has_tag
from core.members.models import Member
from core.paging import Page, page_of, paged


def template_out(t: CouponTemplate) -> s.TemplateOut:
    return s.TemplateOut(
        id=t.id,
        name=t.name,
        description=t.description,
        kind=t.kind,
        label=service.template_label(t),
        amount=t.amount,
        percent_off=t.percent_off,
        max_discount=t.max_discount,
        min_spend=t.min_spend,
        scope=t.scope,
        scope_ids=list(t.scope_ids or []),
        valid_from=t.valid_from,
        valid_until=t.valid_until,
        valid_days=t.valid_days,
        total_stock=t.total_stock,
        per_member_limit=t.per_member_limit,
        claimable=t.claimable,
        status=t.status,
        issued_count=t.issued_count,
        used_count=t.used_count,
        remaining=service.remaining(t),
        created_at=t.created_at,
        updated_at=t.updated_at,
    )


async def _template(ctx: TenantContext, template_id: str) -> CouponTemplate:
    template = await ctx.session.get(
        CouponTemplate, (ctx.tenant_id, template_id), populate_existing=True
    )
    if template is None:
        raise NotFound("no such coupon", code="coupon.not_found")
    return template


async def _check_scope_ids(ctx: TenantContext, scope: str, ids: list[str]) -> None:
    """Every scope id is one of this store's categories or products."""
    if scope == "all":
        return
    model = Category if scope == "categories" else Product
    found = set(await ctx.session.scalars(select(model.id).where(model.id.in_(ids))))
    for index, scope_id in enumerate(ids):
        if scope_id not in found:
            what = "category" if scope == "categories" else "product"
            raise Invalid(
                f"no {what} {scope_id} in this store",
                code="coupon.unknown_scope_id",
                errors=[FieldError(field=f"scope_ids[{index}]", message=f"no such {what}")],
            )


async def create_template(ctx: TenantContext, data: s.TemplateIn) -> s.TemplateOut:
    require_staff(ctx, "manager")
    now = utcnow()
    check_template(data, now)
    scope_ids = list(dict.fromkeys(data.scope_ids))  # duplicates dropped, order kept
    await _check_scope_ids(ctx, data.scope, scope_ids)
    template = CouponTemplate(
        name=data.name,
        kind=data.kind,
        amount=data.amount,
        percent_off=data.percent_off,
        max_discount=data.max_discount,
        min_spend=data.min_spend,
        scope=data.scope,
        scope_ids=scope_ids,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        valid_days=data.valid_days,
        total_stock=data.total_stock,
        per_member_limit=data.per_member_limit,
        claimable=data.claimable,
        status="active",
        description=data.description,
        created_at=now,
        updated_at=now,
    )
    ctx.session.add(template)
    await ctx.session.flush()
    return template_out(template)


async def list_templates(
    ctx: TenantContext, limit: int, cursor: str | None, status: s.TemplateStatus | None = None
) -> Page[s.TemplateOut]:
    require_staff(ctx, "clerk")
    query = select(CouponTemplate)
    if status is not None:
        query = query.where(CouponTemplate.status == status)
    rows = (await ctx.session.scalars(paged(query, CouponTemplate.id, limit, cursor))).all()
    return page_of(rows, limit, template_out, lambda t: t.id)


async def get_template(ctx: TenantContext, template_id: str) -> s.TemplateOut:
    require_staff(ctx, "clerk")
    return template_out(await _template(ctx, template_id))


async def _set_stock(ctx: TenantContext, template: CouponTemplate, stock: int | None) -> None:
    """Stock may not go below what was issued; claims racing with the change are counted by
    the same conditional UPDATE (never read, then written)."""
    statement = update(CouponTemplate).where(CouponTemplate.id == template.id)
    if stock is not None:
        statement = statement.where(CouponTemplate.issued_count <= stock)
    changed = await ctx.session.scalar(
        statement.values(total_stock=stock)
        .returning(CouponTemplate.id)
        .execution_options(synchronize_session=False)
    )
    if changed is None:
        raise Conflict(
            "total_stock cannot be below the coupons already issued",
            code="coupon.stock_below_issued",
            errors=[FieldError(field="total_stock", message="below issued_count")],
        )


async def update_template(
    ctx: TenantContext, template_id: str, data: s.TemplatePatch
) -> s.TemplateOut:
    require_staff(ctx, "manager")
    template = await _template(ctx, template_id)
    if data.total_stock is not UNSET:
        if data.total_stock is not None and not 1 <= data.total_stock <= s.MAX_STOCK:
            raise Invalid(
                f"total_stock is 1..{s.MAX_STOCK}, or null for unlimited",
                code="coupon.invalid_stock",
                errors=[FieldError(field="total_stock", message="out of range")],
            )
        await _set_stock(ctx, template, data.total_stock)
    if data.name is not UNSET:
        template.name = data.name
    if data.description is not UNSET:
        template.description = data.description
    if data.claimable is not UNSET:
        template.claimable = data.claimable
    if data.status is not UNSET:
        template.status = data.status
    template.updated_at = utcnow()
    await ctx.session.flush()
    return template_out(await _template(ctx, template_id))


# ---- issuing ------------------------------------------------------------------------------


async def _recipients(ctx: TenantContext, data: s.IssueIn) -> tuple[list[str], list[s.Skipped]]:
    """The store's members to issue to, and the ids that are not members of this store."""
    if (data.member_ids is None) == (data.tag is None):
        raise Invalid(
            "give either member_ids or tag",
            code="coupon.invalid_recipients",
            errors=[FieldError(field="member_ids", message="either member_ids or tag")],
        )
    if data.member_ids is not None:
        wanted = list(dict.fromkeys(data.member_ids))
        found = set(await ctx.session.scalars(select(Member.id).where(Member.id.in_(wanted))))
        missing = [m for m in wanted if m not in found]
        skipped = [s.Skipped(member_id=m, code="member.not_found") for m in missing]
        return [m for m in wanted if m in found], skipped
    tag = (data.tag or "").strip()
    matched = list(
        await ctx.session.scalars(
            select(Member.id).where(has_tag(ctx, tag)).order_by(Member.id).limit(s.MAX_ISSUE + 1)
        )
    )
    if len(matched) > s.MAX_ISSUE:
        raise Invalid(
            f"more than {s.MAX_ISSUE} members have this tag; issue by member_ids in batches",
            code="coupon.too_many_members",
            errors=[FieldError(field="tag", message=f"over {s.MAX_ISSUE} members")],
        )
    return matched, []


async def issue_to_members(ctx: TenantContext, template_id: str, data: s.IssueIn) -> s.IssueOut:
    """One coupon each; a member over the limit, or a template that ran out, is skipped."""
    require_staff(ctx, "manager")
    template = await _template(ctx, template_id)
    if template.status != "active":
        raise Conflict("this coupon is stopped", code="coupon.not_claimable")
    members, skipped = await _recipients(ctx, data)
    issued = 0
    for member_id in members:
        try:
            await service.issue_checked(ctx, template_id, member_id)
        except AppError as refused:
            if refused.code not in ("coupon.limit_reached", "coupon.sold_out"):
                raise
            skipped.append(s.Skipped(member_id=member_id, code=refused.code))
        else:
            issued += 1
    return s.IssueOut(issued=issued, skipped=skipped)


async def list_issued(
    ctx: TenantContext,
    template_id: str,
    limit: int,
    cursor: str | None,
    status: s.CouponStatus | None = None,
) -> Page[s.IssuedCouponOut]:
    """The coupons made from a template, oldest first."""
    require_staff(ctx, "clerk")
    await _template(ctx, template_id)
    now = utcnow()
    query = select(MemberCoupon).where(MemberCoupon.template_id == template_id)
    if status is not None:
        query = query.where(service.status_filter(status, now))
    rows = (await ctx.session.scalars(paged(query, MemberCoupon.id, limit, cursor))).all()

    def out(c: MemberCoupon) -> s.IssuedCouponOut:
        return s.IssuedCouponOut(
            id=c.id,
            template_id=c.template_id,
            member_id=c.member_id,
            status=service.display_status(c, now),
            source=c.source,
            order_id=c.order_id,
            valid_from=c.valid_from,
            valid_until=c.valid_until,
            claimed_at=c.claimed_at,
            locked_at=c.locked_at,
            used_at=c.used_at,
        )

    return page_of(rows, limit, out, lambda c: c.id)
