"""The points plugin's cart, order, refund and membership hooks.

Redeeming: ``options.use_points`` on a preview or an order (a number of points, or ``true``
for as many as the rules allow). ``load_cart_data`` reads the member's balance; the points
stage takes off at most ``max_share_percent`` of what is payable after the coupon stage,
in whole fen; ``order_before_place`` holds the points under the member's lock (409
``points.insufficient`` if another order took them meanwhile), ``order_paid`` takes them,
``order_cancelled`` returns them.

Earning: on payment, ``paid_amount × points_per_yuan / 100`` times the member's level
multiplier, rounded down; with ``earn_on = "completed"`` the lot waits pending until
``order_completed``. The first paid order of a member also earns ``first_order_bonus``.

Refunds, in proportion to the money refunded so far (cumulative, so no rounding drifts):
the order's earned points × refunded / paid are reversed (from the order's own lot first,
then the member's other lots; what the member already spent is not clawed below zero), and
the used points × refunded / paid come back to the lots they came from.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from core.commerce import Adjustment, CartView, LineProblem, PricingLine
from core.context import TenantContext
from core.errors import Conflict, Invalid
from core.members.models import Member
from core.orders.models import Order
from core.payments.models import Refund
from plugins.points import ledger
from plugins.points.models import PointsLot, PointsOrder
from plugins.points.schemas import PointsSettings

PLUGIN = ledger.PLUGIN
OPTION = "use_points"
LABEL = "积分抵扣"


@dataclass
class PointsCartData:
    """``cart.plugin_data["points"]``: the balance and what the member asked to use."""

    settings: PointsSettings
    balance: int
    wanted: int  # points asked for (the balance for ``true``)


async def load_cart_data(ctx: TenantContext, cart: CartView) -> None:
    choice = cart.options.get(OPTION)
    if choice is None or choice is False:
        return
    if choice is not True and (type(choice) is not int or choice < 1):
        raise Invalid("use_points is a positive number of points or true", code="points.invalid")
    settings = ledger.settings_of(ctx.tenant)
    have = await ledger.balance(ctx, cart.member.id)
    wanted = have if choice is True else choice
    if wanted > have:
        raise Conflict("not enough points", code="points.insufficient")
    cart.plugin_data[PLUGIN] = PointsCartData(settings=settings, balance=have, wanted=wanted)


def _data(cart: CartView) -> PointsCartData | None:
    data = cart.plugin_data.get(PLUGIN)
    return data if isinstance(data, PointsCartData) else None


def points_for(fen: int, settings: PointsSettings) -> int:
    """Points a deduction of ``fen`` costs (rounded up: a fen is never given for free)."""
    return -(-fen * settings.redeem_points_per_yuan // 100)


def deduction(cart: CartView) -> tuple[int, int]:
    """(fen off, points it costs) for the member's choice, within the share cap."""
    data = _data(cart)
    if data is None:
        return 0, 0
    rules = data.settings
    cap = max(cart.total_after("coupon"), 0) * rules.max_share_percent // 100
    fen = min(data.wanted * 100 // rules.redeem_points_per_yuan, cap)
    return fen, points_for(fen, rules)


def price_adjustments(stage: str, cart: CartView) -> list[Adjustment]:
    if stage != "points":
        return []
    fen, _ = deduction(cart)
    if fen <= 0:
        return []
    return [Adjustment(source=PLUGIN, label=LABEL, amount=-fen, stage="points")]


def validate_cart_line(cart: CartView, line: PricingLine) -> list[LineProblem]:
    data = _data(cart)
    if data is None or line is not cart.lines[0]:  # one problem per cart, on its first line
        return []
    _, points = deduction(cart)
    if points < max(data.settings.min_points, 1):
        return [
            LineProblem(
                line_key=line.key,
                code="points.below_minimum",
                message=f"at least {data.settings.min_points} points must be used at once",
            )
        ]
    return []


async def order_before_place(ctx: TenantContext, cart: CartView, order: Order) -> None:
    if _data(cart) is None:
        return
    fen = -sum(a.amount for a in cart.adjustments if a.source == PLUGIN)
    if fen <= 0:
        return
    points = points_for(fen, ledger.settings_of(ctx.tenant))
    await ledger.lock(ctx, order.member_id)
    allocations = await ledger.take(ctx, order.member_id, points)
    ctx.session.add(
        PointsOrder(
            order_id=order.id,
            member_id=order.member_id,
            used=points,
            deduction=fen,
            use_status="held",
            allocations=allocations,
        )
    )
    await ledger.record(
        ctx,
        order.member_id,
        "redeem",
        -points,
        ref_type="order",
        ref_id=order.id,
        reason=LABEL,
    )


async def _points_order(ctx: TenantContext, order: Order) -> PointsOrder | None:
    return await ctx.session.get(PointsOrder, (ctx.tenant_id, order.id))


async def order_cancelled(ctx: TenantContext, order: Order, reason: str) -> None:
    row = await _points_order(ctx, order)
    if row is None or row.use_status != "held":
        return
    await ledger.lock(ctx, order.member_id)
    row.allocations = await ledger.give_back(ctx, dict(row.allocations), row.used)
    row.use_status = "returned"
    row.returned = row.used
    await ledger.record(
        ctx,
        order.member_id,
        "reverse",
        row.used,
        ref_type="order",
        ref_id=order.id,
        reason="order cancelled",
    )


async def _multiplier(ctx: TenantContext, member_id: str, rules: PointsSettings) -> int:
    level_id = await ctx.session.scalar(select(Member.level_id).where(Member.id == member_id))
    return rules.level_multipliers.get(level_id or "", 100)


async def order_paid(ctx: TenantContext, order: Order) -> None:
    rules = ledger.settings_of(ctx.tenant)
    account = await ledger.lock(ctx, order.member_id)
    row = await _points_order(ctx, order)
    if row is None:
        row = PointsOrder(order_id=order.id, member_id=order.member_id)
        ctx.session.add(row)
    if row.use_status == "held":
        row.use_status = "taken"
    multiplier = await _multiplier(ctx, order.member_id, rules)
    earned = order.paid_amount * rules.points_per_yuan * multiplier // 10000
    lot = await ledger.earn(
        ctx,
        order.member_id,
        earned,
        ref_type="order",
        ref_id=order.id,
        reason="order paid",
        is_pending=rules.earn_on == "completed",
    )
    if lot is not None:
        await ctx.session.flush()
        row.earned, row.earn_lot_id = earned, lot.id
    if not account.first_order_id and rules.first_order_bonus > 0:
        account.first_order_id = order.id
        await ledger.earn(
            ctx,
            order.member_id,
            rules.first_order_bonus,
            ref_type="campaign",
            ref_id="first_order",
            reason=f"first order {order.number}",
        )
    elif not account.first_order_id:
        account.first_order_id = order.id


async def order_completed(ctx: TenantContext, order: Order) -> None:
    row = await _points_order(ctx, order)
    if row is None or not row.earn_lot_id:
        return
    await ledger.lock(ctx, order.member_id)
    lot = await ctx.session.get(PointsLot, (ctx.tenant_id, row.earn_lot_id))
    if lot is not None:
        await ledger.activate(ctx, lot, reason="order completed")


async def refund_succeeded(ctx: TenantContext, refund: Refund, order: Order) -> None:
    row = await _points_order(ctx, order)
    if row is None or order.paid_amount <= 0:
        return
    await ledger.lock(ctx, order.member_id)
    share = min(order.refunded_amount, order.paid_amount)
    due_reversed = row.earned * share // order.paid_amount - row.reversed
    if due_reversed > 0:
        await _reverse_earned(ctx, row, due_reversed, refund)
    if row.use_status == "taken":
        due_returned = row.used * share // order.paid_amount - row.returned
        if due_returned > 0:
            row.allocations = await ledger.give_back(ctx, dict(row.allocations), due_returned)
            row.returned += due_returned
            await ledger.record(
                ctx,
                order.member_id,
                "reverse",
                due_returned,
                ref_type="refund",
                ref_id=refund.id,
                reason="points used, returned for a refund",
            )


async def _reverse_earned(
    ctx: TenantContext, row: PointsOrder, points: int, refund: Refund
) -> None:
    """Take back ``points`` the order earned: from its own lot first (pending or active),
    then from the member's other lots; never below zero."""
    row.reversed += points
    lot = await ctx.session.get(PointsLot, (ctx.tenant_id, row.earn_lot_id))
    from_lot = min(points, lot.remaining) if lot is not None else 0
    if lot is not None and from_lot:
        lot.remaining -= from_lot
        if lot.status == "pending":  # never counted: no ledger entry for it
            points -= from_lot
            from_lot = 0
    taken = from_lot + await ledger.take_up_to(ctx, row.member_id, points - from_lot)
    if taken:
        await ledger.record(
            ctx,
            row.member_id,
            "reverse",
            -taken,
            ref_type="refund",
            ref_id=refund.id,
            reason="points earned, reversed for a refund",
        )


async def member_registered(ctx: TenantContext, member: Member) -> None:
    rules = ledger.settings_of(ctx.tenant)
    account = await ledger.lock(ctx, member.id)
    if account.registered_bonus or rules.register_bonus <= 0:
        return
    account.registered_bonus = True
    await ledger.earn(
        ctx,
        member.id,
        rules.register_bonus,
        ref_type="campaign",
        ref_id="register",
        reason="welcome bonus",
    )
