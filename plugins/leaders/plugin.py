"""The community leaders plugin (社区团购团长): neighbours who run a pickup point for their
community, share the store's group rounds, and earn commission on their buyers' orders. It
builds on the pickup plugin (``requires``): an approved leader gets a pickup point of their
own that they verify at.

This module is what the plugin manager registers: the metadata and every hookimpl. The work
lives beside it: ``service`` (merchant), ``storefront`` (applying, the leader's area, share
pages), ``binding`` (buyers to leaders), ``rounds`` (group rounds), ``deliveries`` (pick lists
and arrivals) and ``hooks`` (cart and orders).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.analytics.facts import Contribution, OrderFacts, TrafficSource
from core.commerce import Adjustment, CartView, LineProblem, PricingLine
from core.context import TenantContext
from core.hookspecs import hookimpl
from core.members.models import Member
from core.orders.models import Order
from core.plugins import PluginMeta
from plugins.leaders import api, hooks, storefront
from plugins.leaders.models import (
    Leader,
    LeaderBinding,
    LeaderDelivery,
    LeaderOrder,
    LeaderRound,
    LeaderRoundItem,
)
from plugins.leaders.schemas import LeadersSettings

# The models are named here so that loading the plugin maps its tables (migrations, tests).
__all__ = [
    "META",
    "Leader",
    "LeaderBinding",
    "LeaderDelivery",
    "LeaderOrder",
    "LeaderRound",
    "LeaderRoundItem",
]

META = PluginMeta(
    name="leaders",
    title="Community leaders (社区团购团长)",
    description="Neighbours run pickup points, share group rounds and earn commission.",
    version="1.0.0",
    settings=LeadersSettings,
    migrations=str(Path(__file__).parent / "migrations" / "versions"),
    requires=("pickup",),
)


@hookimpl
def analytics_sources() -> list[TrafficSource]:
    return [TrafficSource(name=META.name, label="社区团长")]


@hookimpl
async def analytics_contributions(
    ctx: TenantContext, orders: Sequence[OrderFacts]
) -> list[Contribution]:
    return await hooks.contributions(ctx, orders)


@hookimpl
def register_routes(surface: str) -> list[Any]:
    return {"store": api.STORE_ROUTES, "merchant": api.MERCHANT_ROUTES}.get(surface, [])


@hookimpl
async def member_registered(
    ctx: TenantContext, member: Member, source: str, source_ref: str
) -> None:
    await storefront.registered(ctx, member, source, source_ref)


# First of all plugins: a round's cart chooses its pickup point before pickup judges it.
@hookimpl(tryfirst=True)
async def load_cart_data(ctx: TenantContext, cart: CartView) -> None:
    await hooks.load_cart_data(ctx, cart)


@hookimpl
async def order_before_place(ctx: TenantContext, cart: CartView, order: Order) -> None:
    await hooks.order_before_place(ctx, cart, order)


@hookimpl
def validate_cart_line(cart: CartView, line: PricingLine) -> list[LineProblem]:
    return hooks.validate_cart_line(cart, line)


@hookimpl
def price_adjustments(stage: str, cart: CartView) -> list[Adjustment]:
    return hooks.price_adjustments(stage, cart)


@hookimpl
async def order_paid(ctx: TenantContext, order: Order) -> None:
    await hooks.order_paid(ctx, order)
