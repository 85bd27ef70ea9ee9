"""The pickup plugin's jobs. Each checks the state before it acts, so a second run is harmless.

- ``pickup.sweep``: hourly, for every tenant with the plugin on: open codes older than
  ``remind_after_days`` get their reminder (``pickup.reminder``, once: ``reminded_at`` is set
  by a conditional UPDATE in the transaction that records it); older than
  ``expire_after_days`` the order is refunded in full when ``unclaimed_action`` is ``refund``
  (``keep`` leaves it waiting). The pickup-ready notice is recorded when the code is issued
  (``codes.issue``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from core.context import Principal, TenantInfo
from core.db import utcnow
from core.jobs import CronSpec, JobSpec
from core.orders.models import Order
from core.payments.refunds import refund_order
from core.runtime import Runtime
from plugins.pickup import notices
from plugins.pickup.models import PickupOrder
from plugins.pickup.service import PLUGIN, settings_of

log = logging.getLogger("storeplug.pickup")
SWEEP_JOB = "pickup.sweep"


def _principal(tenant: TenantInfo, job: str) -> Principal:
    return Principal(kind="job", id=job, tenant_id=tenant.id)


async def _tenant(rt: Runtime, tenant_id: str) -> TenantInfo | None:
    return await rt.tenants.by_id(tenant_id, plugin=PLUGIN)


async def _remind(rt: Runtime, tenant: TenantInfo, pickup_id: str) -> bool:
    async with rt.tenant_context(tenant, _principal(tenant, SWEEP_JOB)) as ctx:
        reminded = await ctx.session.scalar(
            update(PickupOrder)
            .where(
                PickupOrder.id == pickup_id,
                PickupOrder.status == "open",
                PickupOrder.reminded_at.is_(None),
            )
            .values(reminded_at=utcnow())
            .returning(PickupOrder.id)
            .execution_options(synchronize_session=False)
        )
        pickup = await ctx.session.get(PickupOrder, (tenant.id, pickup_id))
        if reminded is None or pickup is None:
            return False
        await notices.notify_reminder(ctx, pickup)
    return True


async def _expire(rt: Runtime, tenant: TenantInfo, pickup_id: str) -> bool:
    async with rt.tenant_context(tenant, _principal(tenant, SWEEP_JOB)) as ctx:
        pickup = await ctx.session.get(PickupOrder, (tenant.id, pickup_id))
        if pickup is None or pickup.status != "open":
            return False
        order = await ctx.session.get(Order, (tenant.id, pickup.order_id))
        if order is None or order.status != "awaiting_pickup":
            return False
        # The refund's success moves the order to refunded; order_refunded closes the code.
        await refund_order(ctx, order, reason="unclaimed pickup", actor=f"job:{SWEEP_JOB}")
    return True


async def sweep_tenant(rt: Runtime, tenant: TenantInfo) -> int:
    """Reminders and expiries due in one tenant; how many it acted on."""
    settings = settings_of(tenant)
    now = utcnow()
    remind_before = now - timedelta(days=settings.remind_after_days)
    expire_before = now - timedelta(days=settings.expire_after_days)
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, tenant.id)
        due = (
            await session.execute(
                select(PickupOrder.id, PickupOrder.issued_at, PickupOrder.reminded_at).where(
                    PickupOrder.status == "open", PickupOrder.issued_at <= remind_before
                )
            )
        ).all()
    acted = 0
    for pickup_id, issued_at, reminded_at in due:
        try:
            expired = issued_at is not None and issued_at <= expire_before
            if settings.unclaimed_action == "refund" and expired:
                acted += await _expire(rt, tenant, pickup_id)
            elif reminded_at is None:
                acted += await _remind(rt, tenant, pickup_id)
        except Exception:
            log.exception("pickup sweep: %s of %s failed", pickup_id, tenant.id)
    return acted


async def sweep(rt: Runtime) -> int:
    """Cron: every tenant with the plugin on, one after another (RLS stays on)."""
    acted = 0
    for tenant in await rt.tenants.with_plugin(PLUGIN):
        acted += await sweep_tenant(rt, tenant)
    return acted


def job_specs() -> list[JobSpec]:
    return [
        JobSpec(name=SWEEP_JOB, function=sweep, retries=0, timeout_s=300),
    ]


def cron_specs() -> list[CronSpec]:
    return [CronSpec(job=SWEEP_JOB, cron="17 * * * *")]
