"""The analytics jobs. All are idempotent: a rollup replaces its day's rows, the RFM run
replaces the store's scores.

- ``analytics.nightly`` (cron, 00:20 China time): one ``analytics.tenant_nightly`` per tenant.
- ``analytics.tenant_nightly(tenant_id)``: rolls up yesterday and any earlier day not rolled
  up yet (back to the store's first activity, at most ``CATCH_UP_DAYS`` a run), recomputes
  RFM, segments and cohorts, and drops visitor rows older than ``KEEP_VISITORS_DAYS`` (their
  counts live on in the rollups).
- ``analytics.rollup(tenant_id, start, end)``: re-run past days (the merchant's backfill).
- ``analytics.rfm(tenant_id)``: RFM, segments and cohorts now.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import delete, select

from core.analytics import rfm
from core.analytics.events import local_day
from core.analytics.models import DayRollup, VisitorDay
from core.analytics.rollup import compute_day, first_activity, store_day
from core.context import Principal, TenantInfo
from core.jobs import CronSpec, JobSpec
from core.runtime import Runtime

log = logging.getLogger("storeplug.analytics")

NIGHTLY_JOB = "analytics.nightly"
TENANT_NIGHTLY_JOB = "analytics.tenant_nightly"
ROLLUP_JOB = "analytics.rollup"
RFM_JOB = "analytics.rfm"
CATCH_UP_DAYS = 400
KEEP_VISITORS_DAYS = 100


def _principal(tenant: TenantInfo, job: str) -> Principal:
    return Principal(kind="job", id=job, tenant_id=tenant.id)


async def roll_day(rt: Runtime, tenant: TenantInfo, day: date) -> None:
    """Compute and store one day, in a transaction of its own."""
    async with rt.tenant_context(tenant, _principal(tenant, ROLLUP_JOB)) as ctx:
        await store_day(ctx, await compute_day(ctx, day, rt.plugins.all_hooks))


async def due_days(rt: Runtime, tenant: TenantInfo, today: date | None = None) -> list[date]:
    """Past days from the store's first activity that have no rollup yet (oldest first, at
    most ``CATCH_UP_DAYS`` back), and yesterday in any case."""
    today = today or local_day()
    yesterday = today - timedelta(days=1)
    floor = today - timedelta(days=CATCH_UP_DAYS)
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, tenant.id)
        first = await first_activity(session)
        done = set(
            (await session.scalars(select(DayRollup.day).where(DayRollup.day >= floor))).all()
        )
    due = []
    day = max(first, floor) if first else yesterday
    while day < yesterday:
        if day not in done:
            due.append(day)
        day += timedelta(days=1)
    return [*due, yesterday]


async def tenant_nightly(rt: Runtime, tenant_id: str) -> int:
    """Job: the nightly work of one store; returns the days rolled up."""
    tenant = await rt.tenants.by_id(tenant_id)
    if tenant is None:
        return 0
    days = await due_days(rt, tenant)
    for day in days:
        await roll_day(rt, tenant, day)
    async with rt.tenant_context(tenant, _principal(tenant, TENANT_NIGHTLY_JOB)) as ctx:
        await rfm.recompute(ctx)
    cutoff = local_day() - timedelta(days=KEEP_VISITORS_DAYS)
    async with rt.tenant_context(tenant, _principal(tenant, TENANT_NIGHTLY_JOB)) as ctx:
        await ctx.session.execute(
            delete(VisitorDay)
            .where(VisitorDay.day < cutoff)
            .execution_options(synchronize_session=False)
        )
    return len(days)


def nightly_key(tenant_id: str, day: date) -> str:
    return f"analytics.nightly:{tenant_id}:{day.isoformat()}"


async def nightly(rt: Runtime) -> int:
    """Cron job: queue every store's nightly work (each store is a job of its own, so one
    store's failure or size holds back no other)."""
    today = local_day()
    tenants = await rt.tenants.ids()
    for tenant_id in tenants:
        await rt.jobs.enqueue(
            TENANT_NIGHTLY_JOB, key=nightly_key(tenant_id, today), tenant_id=tenant_id
        )
    return len(tenants)


async def rollup(rt: Runtime, tenant_id: str, start: str, end: str) -> int:
    """Job: roll up the past days from ``start`` to ``end`` (ISO dates; today is left out,
    it is still moving)."""
    tenant = await rt.tenants.by_id(tenant_id)
    if tenant is None:
        return 0
    first, last = (
        date.fromisoformat(start),
        min(date.fromisoformat(end), local_day() - timedelta(days=1)),
    )
    day, rolled = first, 0
    while day <= last:
        await roll_day(rt, tenant, day)
        day += timedelta(days=1)
        rolled += 1
    return rolled


async def recompute_rfm(rt: Runtime, tenant_id: str) -> int:
    """Job: RFM scores, segments and cohorts of one store, now."""
    tenant = await rt.tenants.by_id(tenant_id)
    if tenant is None:
        return 0
    async with rt.tenant_context(tenant, _principal(tenant, RFM_JOB)) as ctx:
        return await rfm.recompute(ctx)


JOBS = [
    JobSpec(name=NIGHTLY_JOB, function=nightly, retries=0, timeout_s=300),
    JobSpec(name=TENANT_NIGHTLY_JOB, function=tenant_nightly, timeout_s=3600, retry_delay_s=60),
    JobSpec(name=ROLLUP_JOB, function=rollup, timeout_s=3600, retry_delay_s=10),
    JobSpec(name=RFM_JOB, function=recompute_rfm, timeout_s=1800, retry_delay_s=10),
]
# 16:20 UTC is 00:20 in China: yesterday is over, and the traffic buffers have flushed.
CRONS = [CronSpec(job=NIGHTLY_JOB, cron="20 16 * * *")]
