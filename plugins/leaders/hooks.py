"""The leaders plugin's cart and order hooks.

``load_cart_data`` runs before the other plugins' (``tryfirst``) and loads the buyer's
binding and, for a pickup order, the leader whose point it goes to. ``order_before_place``
records the leader the order counts for in ``leaders_orders``: the leader of the point it is
picked up at, else the buyer's bound leader.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from core.commerce import CartView
from core.context import TenantContext
from core.orders.models import Order
from plugins.leaders import binding
from plugins.leaders.models import Leader, LeaderOrder
from plugins.leaders.rules import PLUGIN

PICKUP = "pickup"


@dataclass
class LeadersCartData:
    """``cart.plugin_data["leaders"]``: the buyer's leader, and the leader of the chosen
    pickup point (None when it is nobody's point)."""

    bound: binding.Bound | None = None
    point_leader: Leader | None = None

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


async def _point_leader(ctx: TenantContext, cart: CartView) -> Leader | None:
    point_id = cart.fulfillment_data.get("point_id")
    if cart.fulfillment != PICKUP or not isinstance(point_id, str) or len(point_id) > 26:
        return None
    return await ctx.session.scalar(select(Leader).where(Leader.point_id == point_id))


async def load_cart_data(ctx: TenantContext, cart: CartView) -> None:
    data = LeadersCartData(bound=await binding.current(ctx, cart.member.id))
    data.point_leader = await _point_leader(ctx, cart)
    cart.plugin_data[PLUGIN] = data


async def order_before_place(ctx: TenantContext, cart: CartView, order: Order) -> None:
    found = data_of(cart).leader
    if found is None:
        return
    leader, via = found
    ctx.session.add(
        LeaderOrder(order_id=order.id, leader_id=leader.id, member_id=order.member_id, via=via)
    )
