"""The group-buy's jobs. Each checks the state before it acts, so a second run is harmless.

- ``groupbuy.expire_team(tenant_id, team_id)``: queued for the moment a team's time runs
  out (when its leader paid): virtual completion or failure (``teams.expire_team``).
- ``groupbuy.settle_team(tenant_id, team_id)``: refunds a failed team's paid orders and
  cancels the unpaid orders of a closed team (``teams.settle_team``), even once the plugin
  is off (switching it off fails the open teams). An order that failed unexpectedly fails
  the job after the others are done, so the queue retries it; one the refunds refused (a
  refund already holds the money) is logged, and the sweep comes back to it.
- ``groupbuy.sweep``: every minute, for every tenant with the plugin on, the fallback for
  both: teams past their expiry still forming, and teams closed over two minutes ago with
  orders not settled.

The success notice to each paid member is recorded when the team succeeds, the failure notice
when each member's place is settled and refunded (``plugins.groupbuy.notices``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import and_, or_, select

from core.context import TenantInfo
from core.db import utcnow
from core.jobs import CronSpec, JobSpec
from core.runtime import Runtime
from plugins.groupbuy import teams
from plugins.groupbuy.models import GroupMember, GroupTeam
from plugins.groupbuy.rules import PLUGIN

log = logging.getLogger("storeplug.groupbuy")
SWEEP_JOB = "groupbuy.sweep"
SWEEP_BATCH = 500
SETTLE_GRACE = timedelta(minutes=2)


async def _tenant(rt: Runtime, tenant_id: str) -> TenantInfo | None:
    return await rt.tenants.by_id(tenant_id, plugin=PLUGIN)


async def expire_team(rt: Runtime, tenant_id: str, team_id: str) -> str:
    tenant = await _tenant(rt, tenant_id)
    if tenant is None:
        return ""
    return await teams.expire_team(rt, tenant, team_id)


async def settle_team(rt: Runtime, tenant_id: str, team_id: str) -> int:
    # Also with the plugin switched off: switching it off closes the open teams.
    tenant = await rt.tenants.by_id(tenant_id)
    if tenant is None:
        return 0
    return await teams.settle_team(rt, tenant, team_id)


async def sweep_tenant(rt: Runtime, tenant: TenantInfo) -> int:
    """Expire the due teams and settle the unsettled ones of one tenant; how many acted."""
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, tenant.id)
        due = list(
            (
                await session.scalars(
                    select(GroupTeam.id)
                    .where(GroupTeam.status == "forming", GroupTeam.expires_at <= utcnow())
                    .order_by(GroupTeam.expires_at)
                    .limit(SWEEP_BATCH)
                )
            ).all()
        )
        unsettled = list(
            (
                await session.scalars(
                    select(GroupMember.team_id)
                    .join(GroupTeam, GroupTeam.id == GroupMember.team_id)
                    .where(
                        or_(
                            and_(
                                GroupMember.status == "held",
                                GroupTeam.status.in_(("failed", "succeeded")),
                            ),
                            and_(GroupMember.status == "paid", GroupTeam.status == "failed"),
                        ),
                        # Closed a while ago: the settle job queued at the close comes first.
                        GroupTeam.closed_at <= utcnow() - SETTLE_GRACE,
                    )
                    .distinct()
                    .limit(SWEEP_BATCH)
                )
            ).all()
        )
    acted = 0
    for team_id in due:
        try:
            acted += bool(await teams.expire_team(rt, tenant, team_id))
        except Exception:
            log.exception("groupbuy sweep: expiring team %s of %s failed", team_id, tenant.id)
    for team_id in unsettled:
        try:
            acted += await teams.settle_team(rt, tenant, team_id)
        except teams.SettleIncomplete:
            log.warning("groupbuy sweep: team %s of %s is not settled yet", team_id, tenant.id)
    return acted


async def sweep(rt: Runtime) -> int:
    """Cron: every tenant with the plugin on, one after another (RLS stays on)."""
    acted = 0
    for tenant in await rt.tenants.with_plugin(PLUGIN):
        acted += await sweep_tenant(rt, tenant)
    return acted


def job_specs() -> list[JobSpec]:
    return [
        JobSpec(name=teams.EXPIRE_JOB, function=expire_team),
        JobSpec(name=teams.SETTLE_JOB, function=settle_team, timeout_s=300, retry_delay_s=10),
        JobSpec(name=SWEEP_JOB, function=sweep, retries=0, timeout_s=300),
    ]


def cron_specs() -> list[CronSpec]:
    return [CronSpec(job=SWEEP_JOB, cron="* * * * *")]
