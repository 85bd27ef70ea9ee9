"""Stamp card (集点卡): every paid order earns the member a stamp, a clerk can stamp a
purchase made in the shop, and a full card earns a coupon from a template the merchant
chose. An example of a third-party plugin: installed by its entry point, migrated by
``storeplug db upgrade``, enabled per store.

This module is what the plugin manager registers: the metadata and the hookimpls, which only
delegate (``service``, ``hooks``, ``api``, ``console``, ``jobs``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.console.i18n import N_
from core.console.schemas import NavItem
from core.context import TenantContext, TenantInfo
from core.hookspecs import hookimpl
from core.jobs import CronSpec, JobSpec
from core.orders.models import Order
from core.plugins import PluginMeta

from storeplug_stampcard import api, console, hooks, jobs, service
from storeplug_stampcard.models import Stamp, StampCard
from storeplug_stampcard.schemas import StampCardSettings

# The models are named here so that loading the plugin maps its tables (migrations, tests).
__all__ = ["META", "Stamp", "StampCard"]

META = PluginMeta(
    name=service.PLUGIN,
    title="Stamp card (集点卡)",
    description="Paid orders earn stamps; a full card earns a coupon.",
    version="0.1.0",
    settings=StampCardSettings,
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
    return [
        NavItem(
            label=N_("Stamp cards"),
            path=service.PLUGIN,
            role="clerk",
            section="marketing",
        ),
    ]


@hookimpl
async def order_paid(ctx: TenantContext, order: Order) -> None:
    await hooks.order_paid(ctx, order)


@hookimpl
async def order_refunded(ctx: TenantContext, order: Order) -> None:
    await hooks.order_refunded(ctx, order)


@hookimpl
def register_jobs() -> list[JobSpec]:
    return jobs.job_specs()


@hookimpl
def register_cron() -> list[CronSpec]:
    return [CronSpec(job=jobs.RETRY_JOB, cron="23 * * * *")]  # hourly, at minute 23 (UTC)
