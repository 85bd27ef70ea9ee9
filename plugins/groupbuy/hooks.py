"""The group-buy's cart and order hooks.

A line bought through ``groupbuy:<activity>`` gets the group price only when one of the buy
routes (open a team, join a team) placed it: the route puts an ``Intent`` in the
request-local ``ctx.extras``, and ``load_cart_data`` matches it against the line. Anything
else with that activity (a cart line, a plain ``POST /orders``) is refused by
``validate_cart_line`` with ``groupbuy.buy_required``. A plain line of a product whose
running group-buy does not allow buying alone is refused with ``groupbuy.group_only``.

``order_before_place`` opens the team or holds the place (``teams``), and holds the order's
fulfillment until the team succeeds. The stock is the SKU's own: the core reserves it at
placement and returns it on a cancel or a refund, as for any order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select

from core.commerce import Adjustment, CartView, LineProblem, PricingLine
from core.context import TenantContext
from core.db import utcnow
from core.orders.models import Order
from core.payments.models import Refund
from plugins.groupbuy import errors, teams
from plugins.groupbuy.models import IN_TEAM, GroupActivity, GroupItem, GroupMember, GroupTeam
from plugins.groupbuy.rules import HOLDER, PLUGIN, PREFIX, activity_with_items, settings_of

EXTRA = PLUGIN  # ctx.extras key of the buy route's Intent
LABEL = "拼团价"
# A join is refused when its team has less than this left: no time to pay.
MIN_MINUTES_TO_PAY = 1


@dataclass
class Intent:
    """What a buy route asks for; ``team`` is the team to join (None: open one) and is set
    to the opened team by ``order_before_place``."""

    activity_id: str
    sku_id: str
    quantity: int
    team: GroupTeam | None = None


@dataclass
class Offer:
    activity: GroupActivity
    item: GroupItem


@dataclass
class GroupCartData:
    """``cart.plugin_data["groupbuy"]``: the intent's line, and products sold only in teams."""

    offers: dict[str, Offer] = field(default_factory=dict)
    group_only: set[str] = field(default_factory=set)


def _intent(ctx: TenantContext) -> Intent | None:
    intent = ctx.extras.get(EXTRA)
    return intent if isinstance(intent, Intent) else None


def _matches(intent: Intent | None, line: PricingLine) -> bool:
    return (
        intent is not None
        and line.activity == PREFIX + intent.activity_id
        and line.sku_id == intent.sku_id
        and line.quantity == intent.quantity
    )


async def _used_by_member(ctx: TenantContext, activity_id: str, member_id: str) -> int:
    """Units the member holds or bought in this activity; failed teams and members who left
    do not count."""
    used = await ctx.session.scalar(
        select(func.coalesce(func.sum(GroupMember.quantity), 0)).where(
            GroupMember.activity_id == activity_id,
            GroupMember.member_id == member_id,
            GroupMember.status.in_(IN_TEAM),
        )
    )
    return int(used or 0)


async def _offer(ctx: TenantContext, cart: CartView, intent: Intent, line: PricingLine) -> Offer:
    activity, items = await activity_with_items(ctx, intent.activity_id)
    now = utcnow()
    if activity.status != "active" or now >= activity.ends_at:
        raise errors.activity_ended()
    if now < activity.starts_at:
        raise errors.not_started()
    item = next((i for i in items if i.sku_id == line.sku_id), None)
    if item is None:
        raise errors.sku_not_in_activity()
    if line.quantity > activity.order_limit:
        raise errors.order_limit(activity.order_limit)
    if activity.member_limit:
        used = await _used_by_member(ctx, activity.id, cart.member.id)
        if used + line.quantity > activity.member_limit:
            raise errors.member_limit(activity.member_limit)
    return Offer(activity=activity, item=item)


def _payment_window(ctx: TenantContext, intent: Intent) -> int:
    """Minutes to pay: the plugin's window, never past the team's expiry."""
    minutes = settings_of(ctx.tenant).payment_window_minutes
    team = intent.team
    if team is not None and team.expires_at is not None:
        left = int((team.expires_at - utcnow()) / timedelta(minutes=1))
        if left < MIN_MINUTES_TO_PAY:
            raise errors.team_expired()
        minutes = min(minutes, left)
    return minutes


async def _group_only(ctx: TenantContext, cart: CartView) -> set[str]:
    """Products of plain lines whose running group-buy is sold in teams only."""
    products = {line.product_id for line in cart.lines if not line.activity}
    if not products:
        return set()
    now = utcnow()
    rows = await ctx.session.scalars(
        select(GroupActivity.product_id).where(
            GroupActivity.product_id.in_(products),
            GroupActivity.status == "active",
            GroupActivity.allow_solo.is_(False),
            GroupActivity.starts_at <= now,
            GroupActivity.ends_at > now,
        )
    )
    return set(rows.all())


async def load_cart_data(ctx: TenantContext, cart: CartView) -> None:
    data = GroupCartData(group_only=await _group_only(ctx, cart))
    cart.plugin_data[PLUGIN] = data
    intent = _intent(ctx)
    for line in cart.lines:
        if not line.activity.startswith(PREFIX) or not _matches(intent, line):
            continue
        assert intent is not None
        data.offers[line.key] = await _offer(ctx, cart, intent, line)
        line.level_discount = False  # the group price does not stack with the level discount
        window = _payment_window(ctx, intent)
        shortest = cart.payment_window_minutes
        cart.payment_window_minutes = window if shortest is None else min(shortest, window)


def _data(cart: CartView) -> GroupCartData:
    data = cart.plugin_data.get(PLUGIN)
    return data if isinstance(data, GroupCartData) else GroupCartData()


def validate_cart_line(cart: CartView, line: PricingLine) -> list[LineProblem]:
    data = _data(cart)
    if line.activity.startswith(PREFIX) and line.key not in data.offers:
        message = "group prices are bought by opening or joining a team"
        return [LineProblem(line_key=line.key, code=errors.BUY_REQUIRED, message=message)]
    if not line.activity and line.product_id in data.group_only:
        message = "this product is sold in group-buy teams only"
        return [LineProblem(line_key=line.key, code=errors.GROUP_ONLY, message=message)]
    return []


def price_adjustments(stage: str, cart: CartView) -> list[Adjustment]:
    if stage != "line":
        return []
    offers = _data(cart).offers
    adjustments = []
    for line in cart.lines:
        offer = offers.get(line.key)
        if offer is None:
            continue
        # A SKU repriced below its group price since the activity was set up sells at its price.
        off = (line.unit_price - offer.item.group_price) * line.quantity
        if off > 0:
            adjustments.append(
                Adjustment(source=PLUGIN, label=LABEL, amount=-off, stage="line", line_key=line.key)
            )
    return adjustments


async def order_before_place(ctx: TenantContext, cart: CartView, order: Order) -> None:
    offers = _data(cart).offers
    intent = _intent(ctx)
    if not offers or intent is None:
        return
    if len(cart.lines) != 1:
        raise errors.one_line()
    offer = next(iter(offers.values()))
    if intent.team is None:
        intent.team = await teams.open_team(
            ctx, offer.activity, order, intent.sku_id, intent.quantity
        )
    else:
        await teams.take_seat(ctx, intent.team, order, intent.sku_id, intent.quantity)
    # Shipped or readied for pickup only once the team has succeeded.
    order.fulfillment_hold = HOLDER


async def order_paid(ctx: TenantContext, order: Order) -> None:
    await teams.member_paid(ctx, order)


async def order_cancelled(ctx: TenantContext, order: Order, reason: str) -> None:
    await teams.member_released(ctx, order)


async def refund_succeeded(ctx: TenantContext, refund: Refund, order: Order) -> None:
    await teams.member_refunded(ctx, refund, order)
