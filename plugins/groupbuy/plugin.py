"""The group-buy plugin (拼团): teams of buyers at a group price that succeed the moment the
last place is paid, or fail at their expiry and are refunded through the payments refund
flow; optional virtual completion; race-safe places.

This module is what the plugin manager registers: the metadata and every hookimpl. The work
lives beside it: ``service`` (merchant), ``storefront`` (buyers' reads), ``buying`` (open
and join), ``hooks`` (cart and orders), ``teams`` (the team's life) and ``jobs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.analytics.facts import Contribution, OrderFacts, TrafficSource, activity_contributions
from core.commerce import Adjustment, CartView, CatalogView, Decoration, LineProblem, PricingLine
from core.context import TenantContext
from core.hookspecs import hookimpl
from core.jobs import CronSpec, JobSpec
from core.notifications.events import NotificationEvent
from core.orders.models import Order
from core.payments.models import Refund
from core.plugins import PluginMeta
from plugins.groupbuy import api, hooks, jobs, notices, storefront, teams
from plugins.groupbuy.models import GroupActivity, GroupItem, GroupMember, GroupTeam
from plugins.groupbuy.schemas import GroupBuySettings

# The models are named here so that loading the plugin maps its tables (migrations, tests).
__all__ = ["META", "GroupActivity", "GroupItem", "GroupMember", "GroupTeam"]

META = PluginMeta(
    name="groupbuy",
    title="Group-buy (拼团)",
    description="Teams of buyers at a group price; a team that does not fill is refunded.",
    version="1.0.0",
    settings=GroupBuySettings,
    migrations=str(Path(__file__).parent / "migrations" / "versions"),
)


@hookimpl
def register_routes(surface: str) -> list[Any]:
    return {"store": api.STORE_ROUTES, "merchant": api.MERCHANT_ROUTES}.get(surface, [])


@hookimpl
def register_jobs() -> list[JobSpec]:
    return jobs.job_specs()


@hookimpl
def register_notification_events() -> list[NotificationEvent]:
    return notices.EVENTS


@hookimpl
def register_cron() -> list[CronSpec]:
    return jobs.cron_specs()


@hookimpl
async def plugin_disabled(ctx: TenantContext, plugin: str) -> None:
    if plugin == META.name:
        await teams.close_all(ctx, "group-buy switched off")


@hookimpl
async def load_catalog_data(ctx: TenantContext, view: CatalogView) -> None:
    await storefront.load_catalog(ctx, view)


@hookimpl
def catalog_decorations(view: CatalogView) -> list[Decoration]:
    return storefront.decorations(view)


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
async def order_paid(ctx: TenantContext, order: Order) -> None:
    await hooks.order_paid(ctx, order)


@hookimpl
async def order_cancelled(ctx: TenantContext, order: Order, reason: str) -> None:
    await hooks.order_cancelled(ctx, order, reason)


@hookimpl
async def refund_succeeded(ctx: TenantContext, refund: Refund, order: Order) -> None:
    await hooks.refund_succeeded(ctx, refund, order)


@hookimpl
def analytics_sources() -> list[TrafficSource]:
    return [TrafficSource(name=META.name, label="拼团")]


@hookimpl
async def analytics_contributions(
    ctx: TenantContext, orders: Sequence[OrderFacts]
) -> list[Contribution]:
    return activity_contributions(orders, META.name)
