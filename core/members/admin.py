"""Members on the merchant side: levels, the member list and search, a member's detail and
their tags.

A member's level is always the highest level whose threshold is ≤ their paid total. Paying
moves them up (``service.record_paid``); creating, editing or deleting a level re-evaluates
every member of the store in one UPDATE.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET
from sqlalchemy import ColumnElement, exists, func, select, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from core.analytics.buyers import member_rfm
from core.auth import require_staff
from core.context import TenantContext
from core.errors import AppError, Conflict, FieldError, NotFound
from core.members import schemas as s
from core.members.models import Address, Member, MemberLevel
from core.members.service import address_out, best_level_for, level_brief
from core.orders.models import Order
from core.paging import Page, page_of, paged

MAX_LEVELS = 50
RECENT_ORDERS = 20


# ---- levels -------------------------------------------------------------------------------


async def _reevaluate_levels(ctx: TenantContext) -> None:
    await ctx.session.execute(
        update(Member)
        .values(level_id=best_level_for(Member.total_paid))
        .execution_options(synchronize_session=False)
    )


async def list_levels(ctx: TenantContext) -> list[s.LevelOut]:
    require_staff(ctx, "clerk")
    rows = await ctx.session.execute(
        select(Member.level_id, func.count())
        .where(Member.level_id.is_not(None))
        .group_by(Member.level_id)
    )
    counts: dict[str | None, int] = {level_id: count for level_id, count in rows}
    levels = await ctx.session.scalars(select(MemberLevel).order_by(MemberLevel.threshold))
    return [
        s.LevelOut(
            id=level.id,
            name=level.name,
            threshold=level.threshold,
            discount_percent=level.discount_percent,
            members=counts.get(level.id, 0),
        )
        for level in levels
    ]


def _threshold_taken(threshold: int) -> Conflict:
    return Conflict(
        f"another level already starts at {threshold}",
        code="level.threshold_taken",
        errors=[FieldError(field="threshold", message="must be unique in the store")],
    )


async def _save_level(ctx: TenantContext, level: MemberLevel) -> None:
    """Flush ``level``; the unique (tenant_id, threshold) is the truth under races."""
    with ctx.session.no_autoflush:  # the change is flushed in the savepoint below
        taken = await ctx.session.scalar(
            select(MemberLevel.id).where(
                MemberLevel.threshold == level.threshold, MemberLevel.id != (level.id or "")
            )
        )
    if taken is not None:
        raise _threshold_taken(level.threshold)
    try:
        async with ctx.session.begin_nested():
            ctx.session.add(level)
    except IntegrityError:
        raise _threshold_taken(level.threshold) from None
    await _reevaluate_levels(ctx)


async def _level(ctx: TenantContext, level_id: str) -> MemberLevel:
    level = await ctx.session.get(MemberLevel, (ctx.tenant_id, level_id))
    if level is None:
        raise NotFound("no such member level", code="level.not_found")
    return level


async def _level_out(ctx: TenantContext, level: MemberLevel) -> s.LevelOut:
    count = await ctx.session.scalar(
        select(func.count()).select_from(Member).where(Member.level_id == level.id)
    )
    return s.LevelOut(
        id=level.id,
        name=level.name,
        threshold=level.threshold,
        discount_percent=level.discount_percent,
        members=count or 0,
    )


async def create_level(ctx: TenantContext, data: s.LevelIn) -> s.LevelOut:
    require_staff(ctx, "manager")
    total = await ctx.session.scalar(select(func.count()).select_from(MemberLevel))
    if (total or 0) >= MAX_LEVELS:
        raise Conflict(f"at most {MAX_LEVELS} levels", code="level.limit_reached")
    level = MemberLevel(
        name=data.name, threshold=data.threshold, discount_percent=data.discount_percent
    )
    await _save_level(ctx, level)
    return await _level_out(ctx, level)


async def update_level(ctx: TenantContext, level_id: str, data: s.LevelPatch) -> s.LevelOut:
    require_staff(ctx, "manager")
    level = await _level(ctx, level_id)
    if data.name is not UNSET:
        level.name = data.name
    if data.discount_percent is not UNSET:
        level.discount_percent = data.discount_percent
    if data.threshold is not UNSET:
        level.threshold = data.threshold
    await _save_level(ctx, level)
    return await _level_out(ctx, level)


async def delete_level(ctx: TenantContext, level_id: str) -> None:
    """Members on the level move to the best level that remains (or none)."""
    require_staff(ctx, "manager")
    level = await _level(ctx, level_id)
    await ctx.session.execute(
        update(Member)
        .where(Member.level_id == level.id)
        .values(level_id=None)
        .execution_options(synchronize_session=False)
    )
    await ctx.session.delete(level)
    await ctx.session.flush()
    await _reevaluate_levels(ctx)


# ---- members ------------------------------------------------------------------------------


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def has_tag(ctx: TenantContext, tag: str) -> ColumnElement[bool]:
    if ctx.session.get_bind().dialect.name == "postgresql":
        return type_coerce(Member.tags, JSONB).contains([tag])
    each = func.json_each(Member.tags).table_valued("value")
    return exists(select(each.c.value).where(each.c.value == tag))


def _summary(member: Member, levels: dict[str, MemberLevel]) -> dict[str, Any]:
    return {
        "id": member.id,
        "nickname": member.nickname,
        "avatar_url": member.avatar_url,
        "phone": member.phone,
        "level": level_brief(levels.get(member.level_id or "")),
        "total_paid": member.total_paid,
        "tags": list(member.tags or []),
        "source": member.source,
        "created_at": member.created_at,
        "last_login_at": member.last_login_at,
    }


async def _levels_by_id(ctx: TenantContext) -> dict[str, MemberLevel]:
    return {level.id: level for level in await ctx.session.scalars(select(MemberLevel))}


async def list_members(
    ctx: TenantContext,
    limit: int,
    cursor: str | None,
    q: str | None = None,
    tag: str | None = None,
    level_id: str | None = None,
) -> Page[s.MemberSummary]:
    """Members by id (oldest first); ``q`` matches nickname or phone (contains), ``tag`` one
    of their tags, ``level_id`` their level."""
    require_staff(ctx, "manager")
    query = select(Member)
    if q:
        pattern = _like(q)
        query = query.where(
            Member.nickname.ilike(pattern, escape="\\") | Member.phone.like(pattern, escape="\\")
        )
    if tag:
        query = query.where(has_tag(ctx, tag))
    if level_id:
        query = query.where(Member.level_id == level_id)
    rows = (await ctx.session.scalars(paged(query, Member.id, limit, cursor))).all()
    levels = await _levels_by_id(ctx)
    return page_of(rows, limit, lambda m: s.MemberSummary(**_summary(m, levels)), lambda m: m.id)


async def _member(ctx: TenantContext, member_id: str) -> Member:
    member = await ctx.session.get(Member, (ctx.tenant_id, member_id))
    if member is None:
        raise NotFound("no such member", code="member.not_found")
    return member


async def member_detail(ctx: TenantContext, member_id: str) -> s.MemberDetail:
    require_staff(ctx, "manager")
    member = await _member(ctx, member_id)
    addresses = await ctx.session.scalars(
        select(Address)
        .where(Address.member_id == member.id)
        .order_by(Address.is_default.desc(), Address.id.desc())
    )
    orders = await ctx.session.execute(
        select(Order.id, Order.number, Order.status, Order.payable, Order.created_at)
        .where(Order.member_id == member.id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(RECENT_ORDERS)
    )
    return s.MemberDetail(
        **_summary(member, await _levels_by_id(ctx)),
        gender=member.gender,
        birthday=member.birthday,
        source_ref=member.source_ref,
        addresses=[address_out(a) for a in addresses],
        orders=[
            s.OrderBrief(
                id=o.id,
                number=o.number,
                status=o.status,
                payable=o.payable,
                created_at=o.created_at,
            )
            for o in orders
        ],
        rfm=await member_rfm(ctx, member.id),
    )


async def set_tags(ctx: TenantContext, member_id: str, data: s.TagsIn) -> s.MemberSummary:
    """Replace the member's tags (trimmed, duplicates dropped, order kept)."""
    require_staff(ctx, "manager")
    tags: list[str] = []
    for index, raw in enumerate(data.tags):
        tag = raw.strip()
        if not tag:
            raise AppError(
                "a tag cannot be blank",
                code="request.invalid",
                errors=[FieldError(field=f"tags[{index}]", message="must not be blank")],
            )
        if tag not in tags:
            tags.append(tag)
    member = await _member(ctx, member_id)
    member.tags = tags
    await ctx.session.flush()
    return s.MemberSummary(**_summary(member, await _levels_by_id(ctx)))
