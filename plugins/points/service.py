"""What the points APIs do: the member's balance, history, expiring lots, check-in and
exchange for coupons; the merchant's view of a member, manual adjustments, the catalogue and
the stats. Every change takes the member's lock first (``ledger.lock``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select

from core.context import TenantContext
from core.coupons import service as coupons
from core.coupons.models import CouponTemplate
from core.db import utcnow
from core.errors import Conflict, Invalid, NotFound
from core.members.models import Member
from core.paging import Page, decode_cursor, encode_cursor
from plugins.points import ledger
from plugins.points import schemas as s
from plugins.points.models import PointsAccount, PointsCatalogItem, PointsEntry, PointsLot


def entry_out(entry: PointsEntry) -> s.EntryOut:
    return s.EntryOut(
        id=entry.id,
        kind=entry.kind,
        points=entry.points,
        balance_after=entry.balance_after,
        ref_type=entry.ref_type,
        ref_id=entry.ref_id,
        reason=entry.reason,
        actor=entry.actor,
        created_at=entry.created_at,
    )


def lot_out(lot: PointsLot) -> s.LotOut:
    return s.LotOut(
        id=lot.id,
        points=lot.points,
        remaining=lot.remaining,
        status=lot.status,
        ref_type=lot.ref_type,
        ref_id=lot.ref_id,
        earned_at=lot.earned_at,
        expires_at=lot.expires_at,
    )


def today() -> datetime:
    return utcnow().astimezone(ledger.CST)


async def expiring_lots(ctx: TenantContext, member_id: str) -> list[PointsLot]:
    now = utcnow()
    soon = now + timedelta(days=ledger.settings_of(ctx.tenant).notice_days)
    return list(
        (
            await ctx.session.scalars(
                select(PointsLot)
                .where(
                    PointsLot.member_id == member_id,
                    PointsLot.status == "active",
                    PointsLot.remaining > 0,
                    PointsLot.expires_at > now,
                    PointsLot.expires_at <= soon,
                )
                .order_by(PointsLot.expires_at, PointsLot.id)
            )
        ).all()
    )


async def overview(ctx: TenantContext, member_id: str) -> s.BalanceOut:
    account = await ctx.session.get(PointsAccount, (ctx.tenant_id, member_id))
    soon = await expiring_lots(ctx, member_id)
    return s.BalanceOut(
        balance=await ledger.balance(ctx, member_id),
        pending=await ledger.pending(ctx, member_id),
        expiring_soon=sum(lot.remaining for lot in soon),
        next_expiry=soon[0].expires_at if soon else None,
        streak=account.streak if account is not None else 0,
        checked_in_today=account is not None and account.last_checkin == today().date(),
    )


async def history(
    ctx: TenantContext, member_id: str, limit: int, cursor: str | None
) -> Page[s.EntryOut]:
    """The member's ledger, newest first."""
    query = select(PointsEntry).where(PointsEntry.member_id == member_id)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(PointsEntry.id < after)
    rows = list(
        (await ctx.session.scalars(query.order_by(PointsEntry.id.desc()).limit(limit + 1))).all()
    )
    visible = rows[:limit]
    next_cursor = encode_cursor(visible[-1].id) if len(rows) > limit else None
    return Page(items=[entry_out(e) for e in visible], next_cursor=next_cursor)


async def checkin(ctx: TenantContext, member_id: str) -> s.CheckinOut:
    """Once a day (China time): the check-in points, and the streak bonus every
    ``streak_days``-th day in a row. A second check-in the same day is 409."""
    rules = ledger.settings_of(ctx.tenant)
    account = await ledger.lock(ctx, member_id)
    day = today().date()
    if account.last_checkin == day:
        raise Conflict("already checked in today", code="points.already_checked_in")
    account.streak = account.streak + 1 if account.last_checkin == day - timedelta(days=1) else 1
    account.last_checkin = day
    points = rules.checkin_points
    if account.streak % rules.streak_days == 0:
        points += rules.streak_bonus
    await ledger.earn(
        ctx,
        member_id,
        points,
        ref_type="checkin",
        ref_id=day.isoformat(),
        reason=f"check-in day {account.streak}",
    )
    return s.CheckinOut(
        points=points, streak=account.streak, balance=await ledger.balance(ctx, member_id)
    )


async def exchange(ctx: TenantContext, member_id: str, item_id: str) -> s.ExchangeOut:
    """Points for a coupon of the catalogue: the coupons engine issues it, the points are
    taken in the same transaction (a refusal of either changes nothing)."""
    item = await ctx.session.get(PointsCatalogItem, (ctx.tenant_id, item_id))
    if item is None or not item.active:
        raise NotFound("no such catalogue item", code="points.item_not_found")
    await ledger.lock(ctx, member_id)
    await ledger.take(ctx, member_id, item.cost)
    coupon = await coupons.issue(ctx, item.template_id, member_id, source=ledger.PLUGIN)
    entry = await ledger.record(
        ctx,
        member_id,
        "redeem",
        -item.cost,
        ref_type="exchange",
        ref_id=coupon.id,
        reason=item.title,
    )
    return s.ExchangeOut(coupon_id=coupon.id, points=item.cost, balance=entry.balance_after)


async def catalog(ctx: TenantContext, only_active: bool) -> list[s.CatalogItemOut]:
    query = select(PointsCatalogItem).order_by(PointsCatalogItem.cost, PointsCatalogItem.id)
    if only_active:
        query = query.where(PointsCatalogItem.active.is_(True))
    return [
        s.CatalogItemOut(
            id=i.id, template_id=i.template_id, title=i.title, cost=i.cost, active=i.active
        )
        for i in (await ctx.session.scalars(query)).all()
    ]


# ---- merchant ------------------------------------------------------------------------------


async def _member(ctx: TenantContext, member_id: str) -> Member:
    member = await ctx.session.get(Member, (ctx.tenant_id, member_id))
    if member is None:
        raise NotFound("no such member", code="member.not_found")
    return member


async def member_points(ctx: TenantContext, member_id: str) -> s.MemberPointsOut:
    await _member(ctx, member_id)
    lots = (
        await ctx.session.scalars(
            select(PointsLot).where(PointsLot.member_id == member_id).order_by(PointsLot.id)
        )
    ).all()
    return s.MemberPointsOut(
        member_id=member_id,
        balance=await ledger.balance(ctx, member_id),
        pending=await ledger.pending(ctx, member_id),
        lots=[lot_out(lot) for lot in lots],
    )


async def adjust(ctx: TenantContext, member_id: str, data: s.AdjustIn) -> s.EntryOut:
    """A staff member's manual adjustment: added as a lot of its own, or taken from the
    oldest lots (409 ``points.insufficient`` rather than a negative balance). The entry
    keeps who did it and why."""
    if data.points == 0:
        raise Invalid("an adjustment moves at least one point", code="points.zero_adjustment")
    reason = data.reason.strip()
    if not reason:
        raise Invalid("say why", code="points.reason_required")
    await _member(ctx, member_id)
    await ledger.lock(ctx, member_id)
    if data.points > 0:
        lot = PointsLot(
            member_id=member_id,
            points=data.points,
            remaining=data.points,
            ref_type="staff",
            ref_id=ledger.actor_of(ctx),
            earned_at=utcnow(),
            expires_at=ledger.expiry_for(ledger.settings_of(ctx.tenant), utcnow()),
        )
        ctx.session.add(lot)
    else:
        await ledger.take(ctx, member_id, -data.points)
    entry = await ledger.record(
        ctx,
        member_id,
        "adjust",
        data.points,
        ref_type="staff",
        ref_id=ledger.actor_of(ctx),
        reason=reason,
    )
    return entry_out(entry)


async def add_catalog_item(ctx: TenantContext, data: s.CatalogItemIn) -> s.CatalogItemOut:
    template = await ctx.session.get(CouponTemplate, (ctx.tenant_id, data.template_id))
    if template is None:
        raise NotFound("no such coupon template", code="coupon.not_found")
    item = PointsCatalogItem(template_id=template.id, title=data.title, cost=data.cost)
    ctx.session.add(item)
    await ctx.session.flush()
    return s.CatalogItemOut(
        id=item.id, template_id=item.template_id, title=item.title, cost=item.cost, active=True
    )


async def retire_catalog_item(ctx: TenantContext, item_id: str) -> None:
    item = await ctx.session.get(PointsCatalogItem, (ctx.tenant_id, item_id))
    if item is None:
        raise NotFound("no such catalogue item", code="points.item_not_found")
    item.active = False


async def stats(ctx: TenantContext) -> s.StatsOut:
    def total(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, PointsEntry.points), else_=0)), 0)

    row = (
        await ctx.session.execute(
            select(
                total(PointsEntry.kind == "earn"),
                total((PointsEntry.kind == "adjust") & (PointsEntry.points > 0)),
                total(PointsEntry.kind == "redeem"),
                total((PointsEntry.kind == "reverse") & (PointsEntry.points > 0)),
                total(PointsEntry.kind == "expire"),
                total((PointsEntry.kind == "reverse") & (PointsEntry.points < 0)),
            )
        )
    ).one()
    earned, added, redeemed, given_back, expired, reversed_ = (int(v) for v in row)
    now = utcnow()
    liability = await ctx.session.scalar(
        select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
            PointsLot.status == "active", PointsLot.expires_at > now
        )
    )
    waiting = await ctx.session.scalar(
        select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(PointsLot.status == "pending")
    )
    return s.StatsOut(
        issued=earned + added,
        redeemed=-redeemed - given_back,
        expired=-expired,
        reversed=-reversed_,
        liability=int(liability or 0),
        pending=int(waiting or 0),
    )
