"""The campaigns' jobs.

- ``campaigns.run(tenant_id, campaign_id)``: issue to the pending recipients, a batch per
  transaction, until none is left; then the campaign is ``done``. Idempotent: a row issued is
  never pending again, so a second run (or two at once) finds nothing to do twice, and a run
  killed halfway loses only its open batch, which the next run issues.
- ``campaigns.resume`` (cron, every 5 minutes): queues ``campaigns.run`` again for every
  running campaign, the safety net for a run that died.
"""

from __future__ import annotations

from sqlalchemy import select

from core.campaigns import service
from core.campaigns.models import Campaign
from core.context import Principal
from core.jobs import CronSpec, JobSpec
from core.runtime import Runtime

RESUME_JOB = "campaigns.resume"


async def run(
    rt: Runtime,
    tenant_id: str,
    campaign_id: str,
    max_batches: int | None = None,
    batch_size: int = service.BATCH,
) -> int:
    """Job: the coupons this run issued (``max_batches`` stops it early, for a bounded run)."""
    tenant = await rt.tenants.by_id(tenant_id)
    if tenant is None:
        return 0
    principal = Principal(kind="job", id=service.RUN_JOB, tenant_id=tenant_id)
    issued = batches = 0
    while max_batches is None or batches < max_batches:
        async with rt.tenant_context(tenant, principal) as ctx:
            campaign = await ctx.session.get(Campaign, (tenant_id, campaign_id))
            if campaign is None or campaign.status != "running":
                return issued
            members = await service.pending_batch(ctx, campaign_id, batch_size)
            if not members:
                await service.finish(ctx, campaign_id)
                return issued
            issued += await service.issue_batch(ctx, campaign, members)
        batches += 1
    return issued


async def resume(rt: Runtime) -> int:
    """Cron job: queue every running campaign again (its key makes a live run a no-op)."""
    queued = 0
    every = await rt.tenants.ids()
    async with rt.db.read_session() as session:
        found = []
        for tenant_id in every:
            await rt.db.enter_tenant(session, tenant_id)
            ids = (
                await session.scalars(select(Campaign.id).where(Campaign.status == "running"))
            ).all()
            found += [(tenant_id, campaign_id) for campaign_id in ids]
    for tenant_id, campaign_id in found:
        await rt.jobs.enqueue(
            service.RUN_JOB,
            key=service.run_key(tenant_id, campaign_id),
            tenant_id=tenant_id,
            campaign_id=campaign_id,
        )
        queued += 1
    return queued


JOBS = [
    JobSpec(name=service.RUN_JOB, function=run, timeout_s=3600, retry_delay_s=10),
    JobSpec(name=RESUME_JOB, function=resume, retries=0, timeout_s=300),
]
CRONS = [CronSpec(job=RESUME_JOB, cron="*/5 * * * *")]
