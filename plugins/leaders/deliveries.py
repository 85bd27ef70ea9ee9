"""What goes to each leader's point for a round, and its arrival.

A pick list is read from the round's orders (paid ones, less the units refunded), grouped
by leader: the products with their quantities and the buyers' orders they make up. It may be
read at any time; once the cut-off has passed it is ``final``.

The leader (or the merchant for them) confirms the goods arrived once the round is closed.
That lifts the ``leaders`` fulfillment hold of each of the leader's orders in the round, one
conditional UPDATE each (``core.orders.state.release_fulfillment``): a paid order gets its
pickup code at once (the pickup plugin's ``order_released``), one still unpaid gets it when
it is paid. Orders still unpaid are released too, because their payment may be committing
right now: the release then waits for the order's lock and sees it paid. A payment that
commits after the arrival finds the delivery arrived and releases its own order
(``hooks.order_paid``). No lock on the delivery row is taken after an order's, so the two
never deadlock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError

from core.context import TenantContext
from core.db import utcnow
from core.members.models import Member
from core.orders.models import Order, OrderLine
from core.orders.state import release_fulfillment
from plugins.leaders import errors
from plugins.leaders import schemas as s
from plugins.leaders.models import Leader, LeaderDelivery, LeaderOrder, LeaderRound
from plugins.leaders.rounds import get_round, phase_of
from plugins.leaders.rules import HOLDER
from plugins.pickup.models import PickupPoint

# Orders whose goods must reach the point: paid and not (wholly) refunded or cancelled.
TO_DELIVER = ("paid", "awaiting_pickup", "completed")


async def _orders(
    ctx: TenantContext, round_id: str, leader_ids: Sequence[str] | None
) -> list[tuple[LeaderOrder, Order, Member]]:
    query = (
        select(LeaderOrder, Order, Member)
        .join(
            Order, and_(Order.tenant_id == LeaderOrder.tenant_id, Order.id == LeaderOrder.order_id)
        )
        .join(Member, and_(Member.tenant_id == Order.tenant_id, Member.id == Order.member_id))
        .where(LeaderOrder.round_id == round_id, Order.status.in_(TO_DELIVER))
        .order_by(LeaderOrder.leader_id, Order.number)
    )
    if leader_ids is not None:
        query = query.where(LeaderOrder.leader_id.in_(leader_ids))
    return [(row[0], row[1], row[2]) for row in await ctx.session.execute(query)]


async def _lines(ctx: TenantContext, order_ids: Sequence[str]) -> dict[str, list[OrderLine]]:
    found: dict[str, list[OrderLine]] = defaultdict(list)
    if order_ids:
        rows = await ctx.session.scalars(
            select(OrderLine).where(OrderLine.order_id.in_(order_ids)).order_by(OrderLine.id)
        )
        for line in rows:
            found[line.order_id].append(line)
    return found


async def pick_lists(
    ctx: TenantContext, round_: LeaderRound, leader_ids: Sequence[str] | None = None
) -> list[s.PickList]:
    """One pick list per leader with orders in the round (or for ``leader_ids`` only, each
    listed even when nothing goes to them)."""
    orders = await _orders(ctx, round_.id, leader_ids)
    lines = await _lines(ctx, [order.id for _, order, _ in orders])
    wanted = set(leader_ids) if leader_ids is not None else {lo.leader_id for lo, _, _ in orders}
    leaders = {
        leader.id: leader
        for leader in await ctx.session.scalars(select(Leader).where(Leader.id.in_(wanted)))
    }
    points = {
        point.id: point
        for point in await ctx.session.scalars(
            select(PickupPoint).where(
                PickupPoint.id.in_([x.point_id for x in leaders.values() if x.point_id])
            )
        )
    }
    deliveries = {
        d.leader_id: d
        for d in await ctx.session.scalars(
            select(LeaderDelivery).where(
                LeaderDelivery.round_id == round_.id, LeaderDelivery.leader_id.in_(wanted)
            )
        )
    }
    final = phase_of(round_, utcnow()) == "closed"
    result = []
    for leader_id in sorted(leaders):
        leader = leaders[leader_id]
        totals: dict[str, s.PickItem] = {}
        picked: list[s.PickOrder] = []
        for leader_order, order, buyer in orders:
            if leader_order.leader_id != leader_id:
                continue
            order_lines = []
            for line in lines[order.id]:
                quantity = line.quantity - line.refunded_quantity
                if quantity <= 0:
                    continue
                order_lines.append(
                    s.PickOrderLine(
                        sku_id=line.sku_id,
                        title=line.title,
                        sku_label=line.sku_label,
                        quantity=quantity,
                    )
                )
                item = totals.get(line.sku_id)
                if item is None:
                    totals[line.sku_id] = s.PickItem(
                        sku_id=line.sku_id,
                        product_id=line.product_id,
                        title=line.title,
                        sku_label=line.sku_label,
                        quantity=quantity,
                    )
                else:
                    item.quantity += quantity
            if order_lines:
                picked.append(
                    s.PickOrder(
                        order_id=order.id,
                        number=order.number,
                        status=order.status,
                        buyer=buyer.nickname,
                        lines=order_lines,
                    )
                )
        point = points.get(leader.point_id or "")
        delivery = deliveries.get(leader_id)
        result.append(
            s.PickList(
                round_id=round_.id,
                leader_id=leader_id,
                leader_name=leader.name,
                leader_phone=leader.phone,
                point_id=leader.point_id,
                point_address=point.address if point else leader.address,
                delivery_date=round_.delivery_date,
                final=final,
                status=delivery.status if delivery else "pending",
                arrived_at=delivery.arrived_at if delivery else None,
                items=sorted(totals.values(), key=lambda item: (item.title, item.sku_id)),
                orders=picked,
            )
        )
    return result


async def round_pick_lists(ctx: TenantContext, round_id: str) -> s.PickLists:
    round_ = await get_round(ctx, round_id)
    return s.PickLists(round_id=round_.id, items=await pick_lists(ctx, round_))


async def leader_pick_list(ctx: TenantContext, round_: LeaderRound, leader: Leader) -> s.PickList:
    return (await pick_lists(ctx, round_, [leader.id]))[0]


CSV_HEADER = (
    "leader",
    "leader_phone",
    "point_address",
    "delivery_date",
    "order_number",
    "buyer",
    "product",
    "sku",
    "quantity",
)


def csv_rows(lists: s.PickLists) -> list[tuple[str, ...]]:
    """One row per order line, grouped by leader, for the warehouse."""
    rows: list[tuple[str, ...]] = [CSV_HEADER]
    for pick in lists.items:
        for order in pick.orders:
            for line in order.lines:
                rows.append(
                    (
                        pick.leader_name,
                        pick.leader_phone,
                        pick.point_address,
                        pick.delivery_date.isoformat(),
                        order.number,
                        order.buyer,
                        line.title,
                        line.sku_label,
                        str(line.quantity),
                    )
                )
    return rows


async def ensure_delivery(ctx: TenantContext, round_id: str, leader_id: str) -> None:
    """The leader's delivery row for the round, made with their first order (in a savepoint:
    two first orders at once make one)."""
    exists = await ctx.session.scalar(
        select(LeaderDelivery.id).where(
            LeaderDelivery.round_id == round_id, LeaderDelivery.leader_id == leader_id
        )
    )
    if exists is not None:
        return
    try:
        async with ctx.session.begin_nested():
            ctx.session.add(LeaderDelivery(round_id=round_id, leader_id=leader_id))
    except IntegrityError:
        pass


async def arrived(ctx: TenantContext, round_id: str, leader_id: str) -> bool:
    status = await ctx.session.scalar(
        select(LeaderDelivery.status).where(
            LeaderDelivery.round_id == round_id, LeaderDelivery.leader_id == leader_id
        )
    )
    return status == "arrived"


async def confirm_arrival(
    ctx: TenantContext, round_: LeaderRound, leader: Leader, actor: str
) -> s.PickList:
    """The goods of the round reached the leader's point: their orders' codes go out."""
    if phase_of(round_, utcnow()) != "closed":
        raise errors.round_open()
    delivery = await ctx.session.scalar(
        select(LeaderDelivery).where(
            LeaderDelivery.round_id == round_.id, LeaderDelivery.leader_id == leader.id
        )
    )
    if delivery is None:
        raise errors.delivery_not_found()
    now = utcnow()
    await ctx.session.execute(
        update(LeaderDelivery)
        .where(LeaderDelivery.id == delivery.id, LeaderDelivery.status == "pending")
        .values(status="arrived", arrived_at=now, confirmed_by=actor)
        .execution_options(synchronize_session=False)
    )
    held = await ctx.session.scalars(
        select(Order)
        .join(
            LeaderOrder,
            and_(LeaderOrder.tenant_id == Order.tenant_id, LeaderOrder.order_id == Order.id),
        )
        .where(
            LeaderOrder.round_id == round_.id,
            LeaderOrder.leader_id == leader.id,
            Order.fulfillment_hold == HOLDER,
            Order.status.in_(("pending_payment", "paid")),
        )
        .order_by(Order.id)
    )
    for order in list(held):
        await release_fulfillment(ctx, order, HOLDER)
    await ctx.session.refresh(delivery)
    return (await pick_lists(ctx, round_, [leader.id]))[0]
