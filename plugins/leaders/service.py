"""The merchant's side of leaders: applications to review, approving (which opens the
leader's pickup point in the pickup plugin, with the leader as its verifier), rejecting,
suspending, reinstating and ending, levels, and the list with each leader's figures."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select

from core.context import TenantContext
from core.db import utcnow
from core.orders.models import Order
from core.paging import Page, page_of, paged
from plugins.leaders import errors
from plugins.leaders import schemas as s
from plugins.leaders.models import Leader, LeaderBinding, LeaderOrder
from plugins.leaders.rules import get_leader, settings_of
from plugins.pickup import service as pickup
from plugins.pickup.schemas import PointIn

# Slots at a leader's point: an hour each (buyers of a round pick up from the delivery
# day on), bookable far enough ahead for a round's delivery date.
POINT_SLOT_MINUTES = 60
POINT_BOOKING_DAYS = 45


def leader_out(leader: Leader, stats: s.LeaderStats) -> s.LeaderOut:
    return s.LeaderOut(
        id=leader.id,
        member_id=leader.member_id,
        status=leader.status,
        name=leader.name,
        phone=leader.phone,
        address=leader.address,
        latitude=leader.latitude,
        longitude=leader.longitude,
        photo_url=leader.photo_url,
        level=leader.level,
        point_id=leader.point_id,
        reason=leader.reason,
        applied_at=leader.applied_at,
        approved_at=leader.approved_at,
        decided_at=leader.decided_at,
        stats=stats,
    )


async def stats_of(ctx: TenantContext, leader_ids: Sequence[str]) -> dict[str, s.LeaderStats]:
    """Each leader's figures, two grouped queries for the whole page."""
    if not leader_ids:
        return {}
    now = utcnow()
    buyers = dict(
        (
            await ctx.session.execute(
                select(LeaderBinding.leader_id, func.count())
                .where(
                    LeaderBinding.leader_id.in_(leader_ids),
                    or_(LeaderBinding.expires_at.is_(None), LeaderBinding.expires_at > now),
                )
                .group_by(LeaderBinding.leader_id)
            )
        ).all()
    )
    its_order = and_(Order.tenant_id == LeaderOrder.tenant_id, Order.id == LeaderOrder.order_id)
    sales = {
        leader_id: (count, int(gmv or 0))
        for leader_id, count, gmv in (
            await ctx.session.execute(
                select(
                    LeaderOrder.leader_id,
                    func.count(),
                    func.sum(Order.paid_amount - Order.refunded_amount),
                )
                .join(Order, its_order)
                .where(LeaderOrder.leader_id.in_(leader_ids), Order.paid_at.is_not(None))
                .group_by(LeaderOrder.leader_id)
            )
        ).all()
    }
    return {
        leader_id: s.LeaderStats(
            buyers=int(buyers.get(leader_id, 0)),
            orders=sales.get(leader_id, (0, 0))[0],
            gmv=sales.get(leader_id, (0, 0))[1],
        )
        for leader_id in leader_ids
    }


async def one(ctx: TenantContext, leader: Leader) -> s.LeaderOut:
    return leader_out(leader, (await stats_of(ctx, [leader.id]))[leader.id])


async def list_leaders(
    ctx: TenantContext, status: str | None, limit: int, cursor: str | None
) -> Page[s.LeaderOut]:
    query = select(Leader)
    if status is not None:
        query = query.where(Leader.status == status)
    rows = list(await ctx.session.scalars(paged(query, Leader.id, limit, cursor)))
    stats = await stats_of(ctx, [row.id for row in rows[:limit]])
    return page_of(rows, limit, lambda row: leader_out(row, stats[row.id]), lambda row: row.id)


async def get(ctx: TenantContext, leader_id: str) -> s.LeaderOut:
    return await one(ctx, await get_leader(ctx, leader_id))


def _level(ctx: TenantContext, code: str | None) -> str:
    settings = settings_of(ctx.tenant)
    chosen = code or settings.default_level
    if settings.level(chosen) is None:
        raise errors.unknown_level(chosen)
    return chosen


def _point_in(ctx: TenantContext, leader: Leader) -> PointIn:
    settings = settings_of(ctx.tenant)
    day = [[settings.point_opens, settings.point_closes]]
    return PointIn(
        name=f"{leader.name}（团长）",
        address=leader.address,
        latitude=leader.latitude,
        longitude=leader.longitude,
        phone=leader.phone,
        hours=[day for _ in range(7)],
        slot_minutes=POINT_SLOT_MINUTES,
        verifier_member_ids=[leader.member_id],
        booking_days=POINT_BOOKING_DAYS,
    )


def _decided(leader: Leader, status: str, reason: str = "") -> None:
    leader.status = status
    leader.reason = reason
    leader.decided_at = utcnow()


async def approve(ctx: TenantContext, leader_id: str, data: s.ApproveIn) -> s.LeaderOut:
    """applied → active, with a pickup point at the leader's address that the leader
    verifies at. The row lock makes a double click open one point."""
    leader = await get_leader(ctx, leader_id, lock=True)
    if leader.status != "applied":
        raise errors.wrong_status("approved", leader.status)
    leader.level = _level(ctx, data.level)
    point = await pickup.create_point(ctx, _point_in(ctx, leader))
    leader.point_id = point.id
    leader.approved_at = utcnow()
    _decided(leader, "active")
    return await one(ctx, leader)


async def reject(ctx: TenantContext, leader_id: str, reason: str) -> s.LeaderOut:
    leader = await get_leader(ctx, leader_id, lock=True)
    if leader.status != "applied":
        raise errors.wrong_status("rejected", leader.status)
    _decided(leader, "rejected", reason)
    return await one(ctx, leader)


async def _close_point(ctx: TenantContext, leader: Leader) -> None:
    # No new orders there, and the leader no longer verifies: the store's staff hand over
    # what is waiting.
    if leader.point_id is not None:
        await pickup.set_point_access(
            ctx, leader.point_id, status="inactive", verifier_member_ids=[]
        )


async def suspend(ctx: TenantContext, leader_id: str, reason: str) -> s.LeaderOut:
    leader = await get_leader(ctx, leader_id, lock=True)
    if leader.status != "active":
        raise errors.wrong_status("suspended", leader.status)
    _decided(leader, "suspended", reason)
    await _close_point(ctx, leader)
    return await one(ctx, leader)


async def reinstate(ctx: TenantContext, leader_id: str) -> s.LeaderOut:
    leader = await get_leader(ctx, leader_id, lock=True)
    if leader.status != "suspended":
        raise errors.wrong_status("reinstated", leader.status)
    _decided(leader, "active")
    if leader.point_id is not None:
        await pickup.set_point_access(
            ctx, leader.point_id, status="active", verifier_member_ids=[leader.member_id]
        )
    return await one(ctx, leader)


async def end(ctx: TenantContext, leader_id: str, reason: str) -> s.LeaderOut:
    leader = await get_leader(ctx, leader_id, lock=True)
    if leader.status not in ("active", "suspended"):
        raise errors.wrong_status("ended", leader.status)
    _decided(leader, "ended", reason)
    await _close_point(ctx, leader)
    return await one(ctx, leader)


async def set_level(ctx: TenantContext, leader_id: str, level: str) -> s.LeaderOut:
    leader = await get_leader(ctx, leader_id, lock=True)
    leader.level = _level(ctx, level)
    return await one(ctx, leader)
