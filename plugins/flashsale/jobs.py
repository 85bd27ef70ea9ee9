"""The flash sale's jobs. Each is idempotent: it checks the state before it acts.

- ``flashsale.preheat(tenant_id, activity_id)``: load the activity's Redis keys from the
  database (queued at publish and at cancel, so Redis learns the new state).
- ``flashsale.start``: at the start time, scheduled → running, and the keys loaded afresh.
- ``flashsale.end``: at the end time, reconcile (Redis against the database, the difference
  recorded on the activity and logged), running → ended with the unsold units back in their
  SKUs, then the keys reloaded so Redis answers "ended".
- ``flashsale.redis_release(tenant_id, activity_id, token)``: give a released order's units
  back to Redis (the token's hold is removed once, so a second run does nothing).
- ``flashsale.sweep``: every minute, the safety net for lost timers and lost keys: starts and
  ends what is due, rebuilds missing keys of running sales and records any difference.
"""

from __future__ import annotations

import logging

from sqlalchemy import or_, select

from core.context import Principal, TenantInfo
from core.db import utcnow
from core.jobs import CronSpec, JobSpec
from core.runtime import Runtime
from plugins.flashsale import preheat
from plugins.flashsale.db_stock import lock_activity
from plugins.flashsale.models import LIVE, FlashActivity
from plugins.flashsale.redis_stock import keys_for
from plugins.flashsale.service import END_JOB, PREHEAT_JOB, RELEASE_JOB, START_JOB, close

log = logging.getLogger("storeplug.flashsale")
SWEEP_JOB = "flashsale.sweep"
PLUGIN = "flashsale"


def _principal(tenant: TenantInfo, job: str) -> Principal:
    return Principal(kind="job", id=job, tenant_id=tenant.id)


async def _tenant(rt: Runtime, tenant_id: str) -> TenantInfo | None:
    return await rt.tenants.by_id(tenant_id, plugin=PLUGIN)


async def preheat_job(rt: Runtime, tenant_id: str, activity_id: str) -> bool:
    tenant = await _tenant(rt, tenant_id)
    if tenant is None:
        return False
    return await preheat.load(rt, tenant, activity_id, force=True)


async def start_job(rt: Runtime, tenant_id: str, activity_id: str) -> bool:
    tenant = await _tenant(rt, tenant_id)
    if tenant is None:
        return False
    now = utcnow()
    async with rt.tenant_context(tenant, _principal(tenant, START_JOB)) as ctx:
        activity = await lock_activity(ctx, activity_id)
        if activity is None or activity.status != "scheduled" or activity.starts_at > now:
            return False
        activity.status = "running"
        activity.updated_at = now
    await preheat.load(rt, tenant, activity_id, force=True)
    return True


async def end_job(rt: Runtime, tenant_id: str, activity_id: str) -> bool:
    tenant = await rt.tenants.by_id(tenant_id)  # ends even if the plugin was switched off
    if tenant is None:
        return False
    now = utcnow()
    found = await preheat.compare(rt, tenant, activity_id)
    async with rt.tenant_context(tenant, _principal(tenant, END_JOB)) as ctx:
        activity = await lock_activity(ctx, activity_id)
        if activity is None or activity.status not in LIVE or activity.ends_at > now:
            return False
        activity.reconcile = found
        await close(ctx, activity, "ended", now)
    if found.get("stock") or found.get("members"):
        log.warning("flashsale: Redis and the database differ for %s: %s", activity_id, found)
    await preheat.load(rt, tenant, activity_id, force=True)
    return True


async def redis_release_job(rt: Runtime, tenant_id: str, activity_id: str, token: str) -> int:
    tenant = await rt.tenants.by_id(tenant_id)
    stock = preheat.redis_stock(rt, tenant) if tenant is not None else None
    if stock is None:
        return 0
    return await stock.release(keys_for(tenant_id, activity_id), token)


async def _reconcile_running(rt: Runtime, tenant: TenantInfo, activity_id: str) -> None:
    stock = preheat.redis_stock(rt, tenant)
    if stock is None:
        return
    if not await stock.has_state(keys_for(tenant.id, activity_id)):
        await preheat.rebuild(rt, tenant, activity_id)
        return
    found = await preheat.compare(rt, tenant, activity_id)
    if found.get("stock") or found.get("members"):
        log.warning("flashsale: Redis and the database differ for %s: %s", activity_id, found)
        async with rt.tenant_context(tenant, _principal(tenant, SWEEP_JOB)) as ctx:
            activity = await ctx.session.get(FlashActivity, (tenant.id, activity_id))
            if activity is not None:
                activity.reconcile = found


async def sweep(rt: Runtime) -> int:
    """Cron: what is due in every tenant's flash sales, tenant by tenant (RLS stays on)."""
    now = utcnow()
    acted = 0
    for tenant in await rt.tenants.with_plugin(PLUGIN):
        tenant_id = tenant.id
        async with rt.db.read_session() as session:
            await rt.db.enter_tenant(session, tenant_id)
            due = (
                await session.execute(
                    select(FlashActivity.id, FlashActivity.status, FlashActivity.ends_at).where(
                        FlashActivity.status.in_(LIVE),
                        or_(FlashActivity.status == "running", FlashActivity.starts_at <= now),
                    )
                )
            ).all()
        for activity_id, status, ends_at in due:
            try:
                if ends_at <= now:
                    acted += await end_job(rt, tenant_id, activity_id)
                elif status == "scheduled":
                    acted += await start_job(rt, tenant_id, activity_id)
                else:
                    await _reconcile_running(rt, tenant, activity_id)
            except Exception:
                log.exception("flashsale sweep: activity %s of %s failed", activity_id, tenant_id)
    return acted


def job_specs() -> list[JobSpec]:
    return [
        JobSpec(name=PREHEAT_JOB, function=preheat_job),
        JobSpec(name=START_JOB, function=start_job),
        JobSpec(name=END_JOB, function=end_job),
        JobSpec(name=RELEASE_JOB, function=redis_release_job),
        JobSpec(name=SWEEP_JOB, function=sweep, retries=0, timeout_s=300),
    ]


def cron_specs() -> list[CronSpec]:
    return [CronSpec(job=SWEEP_JOB, cron="* * * * *")]
