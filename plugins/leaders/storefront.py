"""The storefront's side of leaders: applying, the member's own leader profile with its
share link, a leader's public card, binding to a leader and the buyer's binding, and the
leader's buyers."""

from __future__ import annotations

from sqlalchemy import and_, or_, select

from core.context import TenantContext
from core.db import utcnow
from core.members.models import Member
from core.orders.models import Order
from core.paging import Page, keyset_page_of, keyset_paged
from plugins.leaders import binding, errors
from plugins.leaders import schemas as s
from plugins.leaders.models import Leader, LeaderBinding, LeaderOrder
from plugins.leaders.rules import get_leader, leader_of_member, settings_of
from plugins.pickup.models import PickupPoint

SOURCE = "leader"  # member_registered's source for a sign-up through a leader's link


async def _point(ctx: TenantContext, leader: Leader) -> s.StorePoint | None:
    if leader.point_id is None:
        return None
    point = await ctx.session.get(PickupPoint, (ctx.tenant_id, leader.point_id))
    if point is None:
        return None
    return s.StorePoint(
        id=point.id,
        name=point.name,
        address=point.address,
        latitude=point.latitude,
        longitude=point.longitude,
    )


def share_of(ctx: TenantContext, leader: Leader) -> s.ShareOut:
    page = settings_of(ctx.tenant).share_page
    return s.ShareOut(
        path=f"{page}?leader={leader.id}",
        page=page,
        scene=f"l={leader.id}",  # wxacode.getUnlimited takes at most 32 characters
        source="leader",
        source_ref=leader.id,
    )


async def my_leader_out(ctx: TenantContext, leader: Leader) -> s.MyLeaderOut:
    level = settings_of(ctx.tenant).level(leader.level)
    return s.MyLeaderOut(
        id=leader.id,
        status=leader.status,
        name=leader.name,
        phone=leader.phone,
        address=leader.address,
        latitude=leader.latitude,
        longitude=leader.longitude,
        photo_url=leader.photo_url,
        level=leader.level,
        level_name=level.name if level else "",
        reason=leader.reason,
        point=await _point(ctx, leader),
        share=share_of(ctx, leader) if leader.status == "active" else None,
        applied_at=leader.applied_at,
        approved_at=leader.approved_at,
    )


async def apply(ctx: TenantContext, member_id: str, data: s.ApplyIn) -> s.MyLeaderOut:
    """A new application, or a rejected one sent again; anything else is already decided."""
    leader = await leader_of_member(ctx, member_id, lock=True)
    if leader is not None and leader.status != "rejected":
        raise errors.already_applied(leader.status)
    if leader is None:
        leader = Leader(member_id=member_id)
        ctx.session.add(leader)
    leader.status, leader.reason = "applied", ""
    leader.name, leader.phone, leader.address = data.name, data.phone, data.address
    leader.latitude, leader.longitude = data.latitude, data.longitude
    leader.photo_url = data.photo_url
    leader.applied_at = utcnow()
    await ctx.session.flush()
    return await my_leader_out(ctx, leader)


async def me(ctx: TenantContext, member_id: str) -> s.MyLeaderOut:
    leader = await leader_of_member(ctx, member_id)
    if leader is None:
        raise errors.not_applied()
    return await my_leader_out(ctx, leader)


async def card_of(ctx: TenantContext, leader: Leader) -> s.LeaderCard:
    return s.LeaderCard(
        id=leader.id,
        name=leader.name,
        photo_url=leader.photo_url,
        address=leader.address,
        point=await _point(ctx, leader),
    )


async def card(ctx: TenantContext, leader_id: str) -> s.LeaderCard:
    """A leader's share page: active leaders only, others are nobody's business."""
    leader = await get_leader(ctx, leader_id)
    if leader.status != "active":
        raise errors.leader_not_found()
    return await card_of(ctx, leader)


async def _binding_out(ctx: TenantContext, found: binding.Bound | None) -> s.MyBinding:
    if found is None:
        return s.MyBinding(binding=None)
    return s.MyBinding(
        binding=s.BindingOut(
            leader=await card_of(ctx, found.leader),
            source=found.binding.source,
            bound_at=found.binding.bound_at,
            expires_at=found.binding.expires_at,
        )
    )


async def my_binding(ctx: TenantContext, member_id: str) -> s.MyBinding:
    return await _binding_out(ctx, await binding.current(ctx, member_id))


async def bind(ctx: TenantContext, member_id: str, leader_id: str) -> s.BindOut:
    """The buyer opened a leader's link. An inactive leader binds nobody (409); otherwise the
    answer says whether this leader is now the buyer's, and shows the buyer's binding."""
    leader = await get_leader(ctx, leader_id)
    if leader.status != "active":
        raise errors.leader_not_active()
    bound = await binding.bind(ctx, member_id, leader, "link")
    await ctx.session.flush()
    current = await _binding_out(ctx, await binding.current(ctx, member_id))
    return s.BindOut(bound=bound, binding=current.binding)


async def registered(ctx: TenantContext, member: Member, source: str, source_ref: str) -> None:
    """A member who signed up through a leader's link is bound to that leader; a link of an
    unknown or inactive leader binds nobody (and never stops the sign-up)."""
    if source != SOURCE or not source_ref:
        return
    leader = await ctx.session.scalar(select(Leader).where(Leader.id == source_ref[:26]))
    if leader is not None:
        await binding.bind(ctx, member.id, leader, "register")


async def my_buyers(
    ctx: TenantContext, leader: Leader, limit: int, cursor: str | None
) -> Page[s.BuyerOut]:
    """The buyers bound to the leader now, the newest binding first."""
    now = utcnow()
    query = (
        select(LeaderBinding, Member)
        .join(
            Member,
            and_(Member.tenant_id == LeaderBinding.tenant_id, Member.id == LeaderBinding.member_id),
        )
        .where(
            LeaderBinding.leader_id == leader.id,
            or_(LeaderBinding.expires_at.is_(None), LeaderBinding.expires_at > now),
        )
    )
    newest_first = [(LeaderBinding.id, True)]
    rows = (
        await ctx.session.execute(keyset_paged(query, newest_first, limit, cursor, "buyers"))
    ).all()
    return keyset_page_of(
        rows,
        limit,
        lambda row: s.BuyerOut(
            member_id=row[1].id,
            nickname=row[1].nickname,
            avatar_url=row[1].avatar_url,
            source=row[0].source,
            bound_at=row[0].bound_at,
            expires_at=row[0].expires_at,
        ),
        lambda row: [row[0].id],
        "buyers",
    )


async def my_orders(
    ctx: TenantContext, leader: Leader, round_id: str | None, limit: int, cursor: str | None
) -> Page[s.LeaderOrderOut]:
    """The orders that count for the leader (of one round, or all), the newest first."""
    its_order = and_(Order.tenant_id == LeaderOrder.tenant_id, Order.id == LeaderOrder.order_id)
    its_buyer = and_(Member.tenant_id == Order.tenant_id, Member.id == Order.member_id)
    query = (
        select(LeaderOrder, Order, Member)
        .join(Order, its_order)
        .join(Member, its_buyer)
        .where(LeaderOrder.leader_id == leader.id)
    )
    if round_id is not None:
        query = query.where(LeaderOrder.round_id == round_id[:26])
    newest_first = [(LeaderOrder.id, True)]
    rows = (
        await ctx.session.execute(keyset_paged(query, newest_first, limit, cursor, "orders"))
    ).all()
    return keyset_page_of(
        rows,
        limit,
        lambda row: s.LeaderOrderOut(
            order_id=row[1].id,
            number=row[1].number,
            status=row[1].status,
            round_id=row[0].round_id,
            buyer=row[2].nickname,
            payable=row[1].payable,
            paid_amount=row[1].paid_amount,
            refunded_amount=row[1].refunded_amount,
            fulfillment_hold=row[1].fulfillment_hold,
            created_at=row[1].created_at,
        ),
        lambda row: [row[0].id],
        "orders",
    )
