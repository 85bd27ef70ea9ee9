"""The store pickup plugin (到店自提): pickup points near the buyer with their opening hours
and slots, pickup as a fulfillment option with the merchant's pickup discount, a pickup code
issued when the order is paid (or, for an order another plugin held back, when its hold is
lifted), and verification at the counter by the point's staff.

This module is what the plugin manager registers: the metadata and every hookimpl. The work
lives beside it: ``service`` (points and slots), ``hooks`` (cart and orders), ``codes``
(issuing and verifying), ``slots`` (hours and distances) and ``jobs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.commerce import Adjustment, CartView, FulfillmentOption, LineProblem, PricingLine
from core.console.schemas import NavItem
from core.context import TenantContext, TenantInfo
from core.hookspecs import hookimpl
from core.jobs import CronSpec, JobSpec
from core.notifications.events import NotificationEvent
from core.orders.models import Order
from core.plugins import PluginMeta
from plugins.pickup import api, console, hooks, jobs, notices
from plugins.pickup.models import PickupOrder, PickupPoint, PickupSlot, PickupVerification
from plugins.pickup.schemas import PickupSettings

# The models are named here so that loading the plugin maps its tables (migrations, tests).
__all__ = ["META", "PickupOrder", "PickupPoint", "PickupSlot", "PickupVerification"]

META = PluginMeta(
    name="pickup",
    title="Store pickup (到店自提)",
    description="Order online, pick up in store: points, slots, pickup codes and verification.",
    version="1.0.0",
    settings=PickupSettings,
    migrations=str(Path(__file__).parent / "migrations" / "versions"),
)


@hookimpl
def register_routes(surface: str) -> list[Any]:
    return {
        "store": api.STORE_ROUTES,
        "merchant": api.MERCHANT_ROUTES,
        "console": console.CONSOLE_ROUTES,
    }.get(surface, [])


@hookimpl
def console_nav(tenant: TenantInfo) -> list[NavItem]:
    return console.nav(tenant)


@hookimpl
def register_jobs() -> list[JobSpec]:
    return jobs.job_specs()


@hookimpl
def register_cron() -> list[CronSpec]:
    return jobs.cron_specs()


@hookimpl
def register_notification_events() -> list[NotificationEvent]:
    return notices.EVENTS


@hookimpl
async def load_cart_data(ctx: TenantContext, cart: CartView) -> None:
    await hooks.load_cart_data(ctx, cart)


@hookimpl
def validate_cart_line(cart: CartView, line: PricingLine) -> list[LineProblem]:
    return hooks.validate_cart_line(cart, line)


@hookimpl
def fulfillment_options(cart: CartView) -> list[FulfillmentOption]:
    return hooks.fulfillment_options(cart)


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
async def order_released(ctx: TenantContext, order: Order) -> None:
    await hooks.order_released(ctx, order)


@hookimpl
async def order_cancelled(ctx: TenantContext, order: Order, reason: str) -> None:
    await hooks.order_cancelled(ctx, order)


@hookimpl
async def order_refunded(ctx: TenantContext, order: Order) -> None:
    await hooks.order_refunded(ctx, order)
