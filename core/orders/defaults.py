"""Always-on hookimpls of the orders domain (registered as a core module): the unpaid-order
timer, its safety-net sweep, the auto-complete sweep, and the "paid" and "shipped" notices."""

from __future__ import annotations

from core.context import TenantContext
from core.hookspecs import hookimpl
from core.jobs import CronSpec, JobSpec
from core.notifications.events import NotificationEvent
from core.orders import notices
from core.orders.jobs import auto_complete, expire_unpaid, sweep_unpaid
from core.orders.models import Order


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [
        JobSpec(name="orders.expire_unpaid", function=expire_unpaid),
        JobSpec(name="orders.sweep_unpaid", function=sweep_unpaid, retries=0, timeout_s=300),
        JobSpec(name="orders.auto_complete", function=auto_complete, retries=0, timeout_s=600),
    ]


@hookimpl
def register_cron() -> list[CronSpec]:
    return [
        CronSpec(job="orders.sweep_unpaid", cron="* * * * *"),
        CronSpec(job="orders.auto_complete", cron="7 * * * *"),
    ]


@hookimpl
def register_notification_events() -> list[NotificationEvent]:
    return notices.EVENTS


@hookimpl
async def order_paid(ctx: TenantContext, order: Order) -> None:
    await notices.notify_paid(ctx, order)


@hookimpl
async def order_fulfilled(ctx: TenantContext, order: Order) -> None:
    await notices.notify_shipped(ctx, order)
