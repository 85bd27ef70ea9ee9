"""The points plugin (积分): an append-only ledger of lots that expire, points earned on
paid orders (times the member's level), bonuses for registering, the first order and daily
check-ins, points used as cash at checkout or exchanged for coupons, reversed in proportion
by refunds.

This module is what the plugin manager registers: the metadata and every hookimpl. The work
lives beside it: ``ledger`` (lots, the member's lock, the moves), ``hooks`` (cart, orders,
refunds, members), ``service`` and ``api`` (storefront and merchant), ``jobs`` (expiry).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.analytics.facts import Contribution, OrderFacts, TrafficSource, adjustment_contributions
from core.commerce import Adjustment, CartView, LineProblem, PricingLine
from core.context import TenantContext
from core.hookspecs import hookimpl
from core.jobs import CronSpec, JobSpec
from core.members.models import Member
from core.notifications.events import NotificationEvent
from core.orders.models import Order
from core.payments.models import Refund
from core.plugins import PluginMeta
from plugins.points import api, hooks, jobs, notices
from plugins.points.models import (
    PointsAccount,
    PointsCatalogItem,
    PointsEntry,
    PointsLot,
    PointsOrder,
)
from plugins.points.schemas import PointsSettings

# The models are named here so that loading the plugin maps its tables (migrations, tests).
__all__ = [
    "META",
    "PointsAccount",
    "PointsCatalogItem",
    "PointsEntry",
    "PointsLot",
    "PointsOrder",
]

META = PluginMeta(
    name="points",
    title="Points (积分)",
    description="Points earned on orders and check-ins, used as cash or for coupons; they expire.",
    version="1.0.0",
    settings=PointsSettings,
    migrations=str(Path(__file__).parent / "migrations" / "versions"),
)


@hookimpl
def register_routes(surface: str) -> list[Any]:
    return {"store": api.STORE_ROUTES, "merchant": api.MERCHANT_ROUTES}.get(surface, [])


@hookimpl
def register_notification_events() -> list[NotificationEvent]:
    return [notices.EXPIRING]


@hookimpl
def register_jobs() -> list[JobSpec]:
    return jobs.job_specs()


@hookimpl
def register_cron() -> list[CronSpec]:
    return jobs.cron_specs()


@hookimpl
async def load_cart_data(ctx: TenantContext, cart: CartView) -> None:
    await hooks.load_cart_data(ctx, cart)


@hookimpl
def validate_cart_line(cart: CartView, line: PricingLine) -> list[LineProblem]:
    return hooks.validate_cart_line(cart, line)


@hookimpl
def price_adjustments(stage: str, cart: CartView) -> list[Adjustment]:
    return hooks.price_adjustments(stage, cart)


@hookimpl
async def order_before_place(ctx: TenantContext, cart: CartView, order: Order) -> None:
    await hooks.order_before_place(ctx, cart, order)


@hookimpl
async def order_cancelled(ctx: TenantContext, order: Order, reason: str) -> None:
    await hooks.order_cancelled(ctx, order, reason)


@hookimpl
async def order_paid(ctx: TenantContext, order: Order) -> None:
    await hooks.order_paid(ctx, order)


@hookimpl
async def order_completed(ctx: TenantContext, order: Order) -> None:
    await hooks.order_completed(ctx, order)


@hookimpl
async def refund_succeeded(ctx: TenantContext, refund: Refund, order: Order) -> None:
    await hooks.refund_succeeded(ctx, refund, order)


@hookimpl
async def member_registered(
    ctx: TenantContext, member: Member, source: str, source_ref: str
) -> None:
    await hooks.member_registered(ctx, member)


@hookimpl
def analytics_sources() -> list[TrafficSource]:
    return [TrafficSource(name=META.name, label="积分抵扣")]


@hookimpl
async def analytics_contributions(
    ctx: TenantContext, orders: Sequence[OrderFacts]
) -> list[Contribution]:
    return adjustment_contributions(orders, META.name)
