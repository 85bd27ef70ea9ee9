"""The leaders plugin's cart and order hooks.

``load_cart_data`` runs before the other plugins' (``tryfirst``): it loads the buyer's
binding, the leader whose point a pickup order goes to, and the round of any line bought in a
round (``activity = "leaders:<round id>"``). A round's cart is delivered to a leader's point:
when the buyer chose no fulfillment it goes to their bound leader's point, and its pickup slot
is the round's (the first slot of the delivery day that is still ahead), whatever the buyer
sent, so pickup then judges the point and the slot as for any order. The round's lines get the
round price in the line stage (not stacked with the member level discount), and the payment
window ends at the cut-off.

The deciding hooks refuse with codes of their own: a line of a round that is not open
(``leaders.round_closed``, ``leaders.round_not_started``), a SKU not in the round
(``leaders.not_in_round``), and, for the whole cart, lines of two rounds
(``leaders.mixed_rounds``), a round cart that is not picked up at an active leader's point
(``leaders.leader_point_required``), and other goods at a leader's point or in a round's cart
(``leaders.round_only``).

``order_before_place`` records the leader the order counts for (``leaders_orders``): the
leader of the point it is picked up at, else the buyer's bound leader. A round's order is held
back from fulfillment (``fulfillment_hold = "leaders"``) until its leader confirms the goods
arrived; ``order_paid`` releases it at once if they already have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from core.analytics.facts import Contribution, OrderFacts
from core.commerce import Adjustment, CartView, LineProblem, PricingLine
from core.context import TenantContext
from core.db import ID_LENGTH, utcnow
from core.orders.models import Order
from core.orders.state import release_fulfillment
from plugins.leaders import binding, deliveries, errors
from plugins.leaders.models import Leader, LeaderOrder, LeaderRound, LeaderRoundItem
from plugins.leaders.rounds import phase_of
from plugins.leaders.rules import HOLDER, PLUGIN, PREFIX
from plugins.pickup.models import PickupPoint
from plugins.pickup.slots import day_slots

PICKUP = "pickup"
LABEL = "团购价"
CART_WIDE = ""  # the line_key of a problem about the whole cart
# Days after the delivery date to look for a pickup slot still ahead (a point closed that day).
SLOT_SEARCH_DAYS = 7


@dataclass
class RoundOffer:
    round: LeaderRound
    prices: dict[str, int]  # sku id -> round price


@dataclass
class LeadersCartData:
    """``cart.plugin_data["leaders"]``: the buyer's leader, the leader of the chosen pickup
    point (None when it is nobody's point), the rounds the lines name and the verdict."""

    bound: binding.Bound | None = None
    point_leader: Leader | None = None
    rounds: dict[str, RoundOffer] = field(default_factory=dict)  # by round id
    line_rounds: dict[str, str] = field(default_factory=dict)  # line key -> round id
    problem: str = ""  # a cart-wide problem code, "" when none
    message: str = ""

    @property
    def round_id(self) -> str | None:
        ids = set(self.line_rounds.values())
        return next(iter(ids)) if len(ids) == 1 else None

    @property
    def leader(self) -> tuple[Leader, str] | None:
        """The leader the order counts for, and why."""
        if self.point_leader is not None and self.point_leader.status == "active":
            return self.point_leader, "point"
        if self.bound is not None:
            return self.bound.leader, "binding"
        return None


def data_of(cart: CartView) -> LeadersCartData:
    data = cart.plugin_data.get(PLUGIN)
    return data if isinstance(data, LeadersCartData) else LeadersCartData()


def _round_id(line: PricingLine) -> str | None:
    if not line.activity.startswith(PREFIX):
        return None
    return line.activity[len(PREFIX) :]


async def _load_rounds(ctx: TenantContext, cart: CartView, data: LeadersCartData) -> None:
    for line in cart.lines:
        round_id = _round_id(line)
        if round_id is not None:
            data.line_rounds[line.key] = round_id
    ids = {rid for rid in data.line_rounds.values() if len(rid) <= ID_LENGTH}
    if not ids:
        return
    rounds = await ctx.session.scalars(select(LeaderRound).where(LeaderRound.id.in_(ids)))
    for found in rounds:
        data.rounds[found.id] = RoundOffer(round=found, prices={})
    items = await ctx.session.scalars(
        select(LeaderRoundItem).where(LeaderRoundItem.round_id.in_(list(data.rounds)))
    )
    for item in items:
        data.rounds[item.round_id].prices[item.sku_id] = item.round_price


async def _point_leader(ctx: TenantContext, cart: CartView) -> Leader | None:
    point_id = cart.fulfillment_data.get("point_id")
    if cart.fulfillment != PICKUP or not isinstance(point_id, str) or len(point_id) > ID_LENGTH:
        return None
    return await ctx.session.scalar(select(Leader).where(Leader.point_id == point_id))


async def _round_slot(ctx: TenantContext, point_id: str, round_: LeaderRound) -> datetime | None:
    """The first slot of the delivery day (or the days after) at the point that is still
    ahead: from then on the buyer may pick up."""
    point = await ctx.session.get(PickupPoint, (ctx.tenant_id, point_id))
    if point is None:
        return None
    now = utcnow()
    for offset in range(SLOT_SEARCH_DAYS):
        day = round_.delivery_date + timedelta(days=offset)
        for start in day_slots(day, point.hours, point.holidays, point.slot_minutes):
            if start > now:
                return start
    return None


def _judge(cart: CartView, data: LeadersCartData) -> None:
    def refuse(code: str, message: str) -> None:
        data.problem, data.message = code, message

    if not data.line_rounds:
        if data.point_leader is not None:
            refuse(errors.ROUND_ONLY, "a leader's pickup point takes group-round orders only")
        return
    if len(set(data.line_rounds.values())) > 1:
        return refuse(errors.MIXED_ROUNDS, "order the items of one round at a time")
    if len(data.line_rounds) != len(cart.lines):
        return refuse(errors.ROUND_ONLY, "a round's items are ordered on their own")
    if data.point_leader is None or data.point_leader.status != "active":
        return refuse(errors.LEADER_POINT_REQUIRED, "pick up a round's order at a leader's point")
    return None


async def load_cart_data(ctx: TenantContext, cart: CartView) -> None:
    data = LeadersCartData(bound=await binding.current(ctx, cart.member.id))
    cart.plugin_data[PLUGIN] = data
    await _load_rounds(ctx, cart, data)
    round_id = data.round_id
    home = data.bound.leader.point_id if data.bound is not None else None
    if round_id is not None and cart.fulfillment is None and home is not None:
        # A bound buyer's round order goes to their leader's point unless they chose.
        cart.fulfillment = PICKUP
        cart.fulfillment_data = {"point_id": home}
    data.point_leader = await _point_leader(ctx, cart)
    offer = data.rounds.get(round_id) if round_id is not None else None
    if offer is not None and data.point_leader is not None and data.point_leader.point_id:
        slot = await _round_slot(ctx, data.point_leader.point_id, offer.round)
        if slot is not None:
            cart.fulfillment_data = {**cart.fulfillment_data, "slot": slot.isoformat()}
    now = utcnow()
    for line in cart.lines:
        if line.key in data.line_rounds:
            line.level_discount = False  # the round price does not stack with the level's
    if offer is not None and phase_of(offer.round, now) == "open":
        left = int((offer.round.cutoff_at - now) / timedelta(minutes=1))
        window = max(1, left)
        shortest = cart.payment_window_minutes
        cart.payment_window_minutes = window if shortest is None else min(shortest, window)
    _judge(cart, data)


def validate_cart_line(cart: CartView, line: PricingLine) -> list[LineProblem]:
    data = data_of(cart)
    problems = []
    if data.problem and cart.lines and cart.lines[0].key == line.key:
        problems.append(LineProblem(line_key=CART_WIDE, code=data.problem, message=data.message))
    round_id = data.line_rounds.get(line.key)
    if round_id is None:
        return problems
    offer = data.rounds.get(round_id)
    if offer is None:
        problems.append(
            LineProblem(line_key=line.key, code=errors.NOT_IN_ROUND, message="no such round")
        )
        return problems
    phase = phase_of(offer.round, utcnow())
    if phase == "upcoming":
        message = "this round has not started yet"
        problems.append(
            LineProblem(line_key=line.key, code=errors.ROUND_NOT_STARTED, message=message)
        )
    elif phase == "closed":
        message = "this round is closed"
        problems.append(LineProblem(line_key=line.key, code=errors.ROUND_CLOSED, message=message))
    elif line.sku_id not in offer.prices:
        message = "this item is not in the round"
        problems.append(LineProblem(line_key=line.key, code=errors.NOT_IN_ROUND, message=message))
    return problems


def price_adjustments(stage: str, cart: CartView) -> list[Adjustment]:
    if stage != "line":
        return []
    data = data_of(cart)
    adjustments = []
    for line in cart.lines:
        offer = data.rounds.get(data.line_rounds.get(line.key, ""))
        price = offer.prices.get(line.sku_id) if offer is not None else None
        if price is None:
            continue
        # A SKU repriced below its round price since the round was set up sells at its price.
        off = (line.unit_price - price) * line.quantity
        if off > 0:
            adjustments.append(
                Adjustment(source=PLUGIN, label=LABEL, amount=-off, stage="line", line_key=line.key)
            )
    return adjustments


async def order_before_place(ctx: TenantContext, cart: CartView, order: Order) -> None:
    data = data_of(cart)
    found = data.leader
    if found is None:
        return
    leader, via = found
    round_id = data.round_id if via == "point" else None
    ctx.session.add(
        LeaderOrder(
            order_id=order.id,
            leader_id=leader.id,
            member_id=order.member_id,
            via=via,
            round_id=round_id,
        )
    )
    if round_id is not None:
        await deliveries.ensure_delivery(ctx, round_id, leader.id)
        # Its pickup code waits until the leader confirms the goods arrived.
        order.fulfillment_hold = HOLDER


async def order_paid(ctx: TenantContext, order: Order) -> None:
    if order.fulfillment_hold != HOLDER:
        return
    leader_order = await ctx.session.scalar(
        select(LeaderOrder).where(LeaderOrder.order_id == order.id)
    )
    if leader_order is None or leader_order.round_id is None:
        return
    if await deliveries.arrived(ctx, leader_order.round_id, leader_order.leader_id):
        await release_fulfillment(ctx, order, HOLDER)


async def contributions(ctx: TenantContext, orders: Sequence[OrderFacts]) -> list[Contribution]:
    """A leader's order is the leaders' GMV whole, as paid: one query for the batch."""
    paid = {order.id: order.paid_amount for order in orders}
    counted = await ctx.session.scalars(
        select(LeaderOrder.order_id).where(LeaderOrder.order_id.in_(list(paid)))
    )
    return [
        Contribution(source=PLUGIN, order_id=order_id, gmv=paid[order_id]) for order_id in counted
    ]
