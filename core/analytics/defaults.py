"""Always-on hookimpls of analytics (registered as the core module "core.analytics.defaults"):
the nightly jobs, the core's own traffic sources, and the coupons engine's contribution,
written with the same hook a plugin uses."""

from __future__ import annotations

from collections.abc import Sequence

from core.analytics import jobs
from core.analytics.facts import (
    Contribution,
    OrderFacts,
    TrafficSource,
    adjustment_contributions,
)
from core.console.i18n import N_
from core.console.schemas import NavItem
from core.context import TenantContext, TenantInfo
from core.hookspecs import hookimpl
from core.jobs import CronSpec, JobSpec


@hookimpl
def register_jobs() -> list[JobSpec]:
    return list(jobs.JOBS)


@hookimpl
def register_cron() -> list[CronSpec]:
    return list(jobs.CRONS)


@hookimpl
def console_nav(tenant: TenantInfo) -> list[NavItem]:
    return [
        NavItem(label=N_("Analytics"), path="analytics", role="manager", section="store", order=1)
    ]


@hookimpl
def analytics_sources() -> list[TrafficSource]:
    return [
        TrafficSource(name="direct", label="直接访问"),
        TrafficSource(name="share", label="分享"),
        TrafficSource(name="scan", label="扫码"),
        TrafficSource(name="coupon", label="优惠券"),
    ]


@hookimpl
async def analytics_contributions(
    ctx: TenantContext, orders: Sequence[OrderFacts]
) -> list[Contribution]:
    """Orders paid with a coupon (``coupon:<id>`` adjustments): their amount and discount."""
    return adjustment_contributions(orders, "coupon")
