"""The share coupon plugin (社交立减金): a paid order unlocks a pack of coupons its buyer
shares to a chat group; each friend claims one, race-safe, and the sharer is rewarded once.
It keeps no coupons of its own: every coupon is issued by the core coupons engine
(``core.coupons.service.issue``) from a template the merchant made.

This module is what the plugin manager registers: the metadata and every hookimpl. The work
lives beside it: ``service`` (merchant), ``packs`` (a pack's life), ``claiming``,
``rewards``, ``storefront`` (buyers' reads) and ``hooks`` (orders and members).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.analytics.facts import Contribution, OrderFacts, TrafficSource
from core.console.schemas import NavItem
from core.context import TenantContext, TenantInfo
from core.hookspecs import hookimpl
from core.members.models import Member
from core.notifications.events import NotificationEvent
from core.orders.models import Order
from core.plugins import PluginMeta
from plugins.sharecoupon import api, console, hooks, notices
from plugins.sharecoupon.models import (
    ShareCampaign,
    ShareClaim,
    SharePack,
    ShareReferral,
    ShareReward,
)
from plugins.sharecoupon.schemas import ShareCouponSettings

# The models are named here so that loading the plugin maps its tables (migrations, tests).
__all__ = ["META", "ShareCampaign", "ShareClaim", "SharePack", "ShareReferral", "ShareReward"]

META = PluginMeta(
    name="sharecoupon",
    title="Share coupons (社交立减金)",
    description="A paid order unlocks a pack of coupons to share; each friend claims one.",
    version="1.0.0",
    settings=ShareCouponSettings,
    migrations=str(Path(__file__).parent / "migrations" / "versions"),
)


@hookimpl
def register_routes(surface: str) -> list[Any]:
    routes = {
        "store": api.STORE_ROUTES,
        "merchant": api.MERCHANT_ROUTES,
        "console": console.CONSOLE_ROUTES,
    }
    return routes.get(surface, [])


@hookimpl
def register_notification_events() -> list[NotificationEvent]:
    return notices.EVENTS


@hookimpl
def console_nav(tenant: TenantInfo) -> list[NavItem]:
    return console.nav(tenant)


# tryfirst: the campaign's row is taken before the coupons engine's hook takes the template's
# (the order a claim takes them in; see plugins.sharecoupon.packs).
@hookimpl(tryfirst=True)
async def order_paid(ctx: TenantContext, order: Order) -> None:
    await hooks.order_paid(ctx, order)


@hookimpl
async def order_refunded(ctx: TenantContext, order: Order) -> None:
    await hooks.order_refunded(ctx, order)


@hookimpl
async def member_registered(
    ctx: TenantContext, member: Member, source: str, source_ref: str
) -> None:
    await hooks.member_registered(ctx, member, source, source_ref)


@hookimpl
def analytics_sources() -> list[TrafficSource]:
    return [TrafficSource(name=META.name, label="社交立减金")]


@hookimpl
async def analytics_contributions(
    ctx: TenantContext, orders: Sequence[OrderFacts]
) -> list[Contribution]:
    return await hooks.contributions(ctx, orders)
