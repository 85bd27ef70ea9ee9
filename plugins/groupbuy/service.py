"""The merchant's side of group-buys: activities (create, replace, stop, delete), the teams
with their members, closing a team by hand, and an activity's figures.

- An activity names one product and some of its SKUs at a group price below the SKU's
  price. The product's row is locked while an activity is written, so two requests racing to
  put overlapping active group-buys on one product are serialised and the second sees the
  first (``groupbuy.overlapping_activity``).
- Team size, time limit and virtual completion are copied into a team when it opens, so a
  later edit changes only the teams opened after it.
- An activity with teams is never deleted (their orders point at it): it is stopped.
- The figures are aggregate queries over the teams and the members' orders, never loops.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, delete, func, select

from core.catalog.models import Product, Sku
from core.context import TenantContext
from core.db import ID_LENGTH, utcnow
from core.orders.models import Order
from core.paging import Page, page_of, paged
from plugins.groupbuy import errors
from plugins.groupbuy import schemas as s
from plugins.groupbuy.models import GroupActivity, GroupItem, GroupMember, GroupTeam
from plugins.groupbuy.rules import get_activity, items_of, phase_of


def activity_out(
    activity: GroupActivity, items: list[GroupItem], now: datetime | None = None
) -> s.ActivityOut:
    return s.ActivityOut(
        id=activity.id,
        product_id=activity.product_id,
        title=activity.title,
        status=activity.status,  # type: ignore[arg-type]  # one of ACTIVITY_STATUSES
        phase=phase_of(activity, now or utcnow()),
        team_size=activity.team_size,
        time_limit_hours=activity.time_limit_minutes // 60,
        starts_at=activity.starts_at,
        ends_at=activity.ends_at,
        order_limit=activity.order_limit,
        member_limit=activity.member_limit,
        allow_solo=activity.allow_solo,
        virtual_percent=activity.virtual_percent,
        items=[s.ItemOut(sku_id=item.sku_id, group_price=item.group_price) for item in items],
        created_at=activity.created_at,
        stopped_at=activity.stopped_at,
    )


def member_out(row: GroupMember) -> s.TeamMemberOut:
    return s.TeamMemberOut(
        member_id=row.member_id,
        order_id=row.order_id,
        is_leader=row.is_leader,
        status=row.status,
        quantity=row.quantity,
        joined_at=row.created_at,
        paid_at=row.paid_at,
    )


def team_out(team: GroupTeam, members: list[GroupMember] | None = None) -> s.TeamOut:
    return s.TeamOut(
        id=team.id,
        activity_id=team.activity_id,
        product_id=team.product_id,
        leader_id=team.leader_id,
        status=team.status,  # type: ignore[arg-type]  # one of TEAM_STATUSES
        size=team.size,
        seats=team.seats,
        paid=team.paid,
        placeholders=team.placeholders,
        created_at=team.created_at,
        opened_at=team.opened_at,
        expires_at=team.expires_at,
        closed_at=team.closed_at,
        close_reason=team.close_reason,
        members=[member_out(row) for row in members or []],
    )


# ---- activities ----------------------------------------------------------------------------


def _check_window(data: s.ActivityIn, *, creating: bool) -> None:
    for name in ("starts_at", "ends_at"):
        if getattr(data, name).tzinfo is None:
            raise errors.invalid(
                "times need a time zone", "groupbuy.invalid_window", name, "add a zone, e.g. Z"
            )
    if data.ends_at <= data.starts_at:
        raise errors.invalid_window("must be after starts_at")
    if creating and data.ends_at <= utcnow():
        raise errors.invalid_window("must be in the future")


async def _check_input(ctx: TenantContext, data: s.ActivityIn, *, creating: bool) -> None:
    """Every check of the body, the product's row locked (see the module's docstring)."""
    _check_window(data, creating=creating)
    product = await ctx.session.scalar(
        select(Product.id).where(Product.id == data.product_id).with_for_update()
    )
    if product is None:
        raise errors.unknown_product()
    seen: set[str] = set()
    for index, item in enumerate(data.items):
        if item.sku_id in seen:
            raise errors.duplicate_sku(index)
        seen.add(item.sku_id)
    rows = await ctx.session.execute(
        select(Sku.id, Sku.price).where(Sku.id.in_(seen), Sku.product_id == data.product_id)
    )
    prices = {sku_id: price for sku_id, price in rows}
    for index, item in enumerate(data.items):
        price = prices.get(item.sku_id)
        if price is None:
            raise errors.unknown_sku(index)
        if item.group_price >= price:
            raise errors.invalid_price(index, price)


async def _check_overlap(ctx: TenantContext, data: s.ActivityIn, activity_id: str) -> None:
    clash = await ctx.session.scalar(
        select(GroupActivity.id)
        .where(
            GroupActivity.product_id == data.product_id,
            GroupActivity.status == "active",
            GroupActivity.id != activity_id,
            GroupActivity.starts_at < data.ends_at,
            GroupActivity.ends_at > data.starts_at,
        )
        .limit(1)
    )
    if clash is not None:
        raise errors.overlapping()


def _apply(activity: GroupActivity, data: s.ActivityIn) -> None:
    activity.product_id = data.product_id
    activity.title = data.title
    activity.team_size = data.team_size
    activity.time_limit_minutes = data.time_limit_hours * 60
    activity.starts_at = data.starts_at
    activity.ends_at = data.ends_at
    activity.order_limit = data.order_limit
    activity.member_limit = data.member_limit
    activity.allow_solo = data.allow_solo
    activity.virtual_percent = data.virtual_percent


def _write_items(ctx: TenantContext, activity_id: str, data: s.ActivityIn) -> list[GroupItem]:
    items = [
        GroupItem(activity_id=activity_id, sku_id=item.sku_id, group_price=item.group_price)
        for item in sorted(data.items, key=lambda item: item.sku_id)
    ]
    ctx.session.add_all(items)
    return items


async def create(ctx: TenantContext, data: s.ActivityIn) -> s.ActivityOut:
    await _check_input(ctx, data, creating=True)
    await _check_overlap(ctx, data, "")
    now = utcnow()
    activity = GroupActivity(status="active", created_at=now, updated_at=now)
    _apply(activity, data)
    ctx.session.add(activity)
    await ctx.session.flush()
    items = _write_items(ctx, activity.id, data)
    await ctx.session.flush()
    return activity_out(activity, items, now)


async def _has_teams(ctx: TenantContext, activity_id: str) -> bool:
    found = await ctx.session.scalar(
        select(GroupTeam.id).where(GroupTeam.activity_id == activity_id).limit(1)
    )
    return found is not None


async def replace(ctx: TenantContext, activity_id: str, data: s.ActivityIn) -> s.ActivityOut:
    """A full replacement of an active activity; its teams keep what they copied on opening."""
    activity = await get_activity(ctx, activity_id, lock=True)
    if activity.status != "active":
        raise errors.activity_stopped()
    await _check_input(ctx, data, creating=False)
    if data.product_id != activity.product_id and await _has_teams(ctx, activity.id):
        raise errors.product_fixed()
    await _check_overlap(ctx, data, activity.id)
    await ctx.session.execute(delete(GroupItem).where(GroupItem.activity_id == activity.id))
    _apply(activity, data)
    activity.updated_at = utcnow()
    items = _write_items(ctx, activity.id, data)
    await ctx.session.flush()
    return activity_out(activity, items)


async def stop(ctx: TenantContext, activity_id: str) -> s.ActivityOut:
    """No new teams and no joins from now on; teams already forming run to their expiry.
    Stopping a stopped activity changes nothing."""
    activity = await get_activity(ctx, activity_id, lock=True)
    if activity.status == "active":
        activity.status = "stopped"
        activity.stopped_at = activity.updated_at = utcnow()
        await ctx.session.flush()
    items = await items_of(ctx, activity.id)
    return activity_out(activity, items)


async def remove(ctx: TenantContext, activity_id: str) -> None:
    # Locked: an open racing this delete waits, then finds the activity gone.
    activity = await get_activity(ctx, activity_id, lock=True)
    if await _has_teams(ctx, activity.id):
        raise errors.has_teams()
    await ctx.session.execute(delete(GroupItem).where(GroupItem.activity_id == activity.id))
    await ctx.session.delete(activity)


async def detail(ctx: TenantContext, activity_id: str) -> s.ActivityOut:
    activity = await get_activity(ctx, activity_id)
    items = await items_of(ctx, activity.id)
    return activity_out(activity, items)


async def list_activities(
    ctx: TenantContext, limit: int, cursor: str | None, status: str | None
) -> Page[s.ActivityOut]:
    query = select(GroupActivity)
    if status is not None:
        query = query.where(GroupActivity.status == status)
    rows = list((await ctx.session.scalars(paged(query, GroupActivity.id, limit, cursor))).all())
    items: dict[str, list[GroupItem]] = {row.id: [] for row in rows[:limit]}
    if items:
        found = await ctx.session.scalars(
            select(GroupItem)
            .where(GroupItem.activity_id.in_(list(items)))
            .order_by(GroupItem.sku_id)
        )
        for item in found:
            items[item.activity_id].append(item)
    now = utcnow()
    return page_of(rows, limit, lambda row: activity_out(row, items[row.id], now), lambda r: r.id)


# ---- teams ---------------------------------------------------------------------------------


async def get_team(ctx: TenantContext, team_id: str) -> GroupTeam:
    team = None
    if len(team_id) <= ID_LENGTH:
        team = await ctx.session.get(GroupTeam, (ctx.tenant_id, team_id))
    if team is None:
        raise errors.team_not_found()
    return team


async def members_of(ctx: TenantContext, team_id: str) -> list[GroupMember]:
    """Every order's place in the team, the leader first, then in the order they came."""
    rows = await ctx.session.scalars(
        select(GroupMember)
        .where(GroupMember.team_id == team_id)
        .order_by(GroupMember.is_leader.desc(), GroupMember.created_at, GroupMember.id)
    )
    return list(rows.all())


async def team_detail(ctx: TenantContext, team_id: str) -> s.TeamOut:
    team = await get_team(ctx, team_id)
    return team_out(team, await members_of(ctx, team.id))


async def list_teams(
    ctx: TenantContext,
    limit: int,
    cursor: str | None,
    activity_id: str | None,
    status: str | None,
) -> Page[s.TeamOut]:
    """Teams in the order they were created, without their members (``team_detail`` has
    them): a list stays one query however large the teams."""
    query = select(GroupTeam)
    if activity_id is not None:
        query = query.where(GroupTeam.activity_id == activity_id)
    if status is not None:
        query = query.where(GroupTeam.status == status)
    rows = list((await ctx.session.scalars(paged(query, GroupTeam.id, limit, cursor))).all())
    return page_of(rows, limit, team_out, lambda row: row.id)


# ---- figures -------------------------------------------------------------------------------


async def stats(ctx: TenantContext, activity_id: str) -> s.StatsOut:
    activity = await get_activity(ctx, activity_id)
    virtual = func.sum(case((GroupTeam.placeholders > 0, 1), else_=0))
    teams = {
        status: (int(count), int(with_placeholders or 0))
        for status, count, with_placeholders in await ctx.session.execute(
            select(GroupTeam.status, func.count(), virtual)
            .where(
                GroupTeam.activity_id == activity.id,
                GroupTeam.opened_at.is_not(None),  # the leader paid
                GroupTeam.status.in_(("forming", "succeeded", "failed")),
            )
            .group_by(GroupTeam.status)
        )
    }
    forming = teams.get("forming", (0, 0))[0]
    succeeded, virtual_completions = teams.get("succeeded", (0, 0))
    failed = teams.get("failed", (0, 0))[0]
    # One row per member's order (order_id is unique among members), so nothing is counted
    # twice; members of failed teams were refunded, so only what they got back counts.
    kept = case((GroupTeam.status != "failed", Order.paid_amount - Order.refunded_amount), else_=0)
    paid_orders, gmv, refunds = (
        await ctx.session.execute(
            select(
                func.count(case((Order.paid_amount > 0, 1))),
                func.coalesce(func.sum(kept), 0),
                func.coalesce(func.sum(Order.refunded_amount), 0),
            )
            .select_from(GroupMember)
            .join(
                Order,
                and_(Order.tenant_id == GroupMember.tenant_id, Order.id == GroupMember.order_id),
            )
            .join(
                GroupTeam,
                and_(
                    GroupTeam.tenant_id == GroupMember.tenant_id,
                    GroupTeam.id == GroupMember.team_id,
                ),
            )
            .where(GroupMember.activity_id == activity.id)
        )
    ).one()
    decided = succeeded + failed
    return s.StatsOut(
        activity_id=activity.id,
        teams_opened=forming + succeeded + failed,
        forming=forming,
        succeeded=succeeded,
        failed=failed,
        virtual_completions=virtual_completions,
        success_rate_percent=succeeded * 100 // decided if decided else 0,
        orders_paid=int(paid_orders or 0),
        gmv=int(gmv or 0),
        refunds=int(refunds or 0),
    )
