"""The points jobs. Each is idempotent: it looks at the lots before it acts.

- ``points.expire(tenant_id)``: every lot of the tenant whose expiry has come loses what is
  left of it, one ``expire`` entry per member, under the member's lock (so an expiry and a
  redemption never both take the same points); and the lots expiring within the notice
  window that were not announced yet are marked and announced: one ``points.expiring`` notice
  per member, recorded in the same transaction (``plugins.points.notices``).
- ``points.sweep``: hourly, ``points.expire`` for every tenant with the plugin on.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select

from core.context import Principal, TenantContext, TenantInfo
from core.db import utcnow
from core.jobs import CronSpec, JobSpec
from core.runtime import Runtime
from plugins.points import ledger, notices
from plugins.points.models import PointsLot

log = logging.getLogger("storeplug.points")
EXPIRE_JOB = "points.expire"
SWEEP_JOB = "points.sweep"


def _principal(tenant: TenantInfo, job: str) -> Principal:
    return Principal(kind="job", id=job, tenant_id=tenant.id)


async def expire_job(rt: Runtime, tenant_id: str) -> int:
    """Expire the tenant's due lots; the number of points expired."""
    tenant = await rt.tenants.by_id(tenant_id)
    if tenant is None or ledger.PLUGIN not in tenant.enabled_plugins:
        return 0
    expired = 0
    async with rt.tenant_context(tenant, _principal(tenant, EXPIRE_JOB)) as ctx:
        now = utcnow()
        due = select(PointsLot.member_id).where(
            PointsLot.status == "active", PointsLot.remaining > 0, PointsLot.expires_at <= now
        )
        members = sorted(set((await ctx.session.scalars(due)).all()))
        for member_id in members:  # in id order, so two runs never deadlock
            await ledger.lock(ctx, member_id)
            lots = (
                await ctx.session.scalars(
                    select(PointsLot).where(
                        PointsLot.member_id == member_id,
                        PointsLot.status == "active",
                        PointsLot.remaining > 0,
                        PointsLot.expires_at <= now,
                    )
                )
            ).all()
            points = sum(lot.remaining for lot in lots)
            for lot in lots:
                lot.remaining = 0
            if points:
                expired += points
                await ledger.record(
                    ctx,
                    member_id,
                    "expire",
                    -points,
                    ref_type="expiry",
                    ref_id=now.date().isoformat(),
                    reason=f"{len(lots)} lot(s) expired",
                )
        await _announce(ctx)
    return expired


async def _announce(ctx: TenantContext) -> None:
    """Record one "expiring soon" notice per member for the lots not yet announced."""
    tenant = ctx.tenant
    soon = utcnow() + timedelta(days=ledger.settings_of(tenant).notice_days)
    lots = (
        await ctx.session.scalars(
            select(PointsLot).where(
                PointsLot.status == "active",
                PointsLot.remaining > 0,
                PointsLot.expires_at > utcnow(),
                PointsLot.expires_at <= soon,
                PointsLot.noticed_at.is_(None),
            )
        )
    ).all()
    per_member: dict[str, list[PointsLot]] = defaultdict(list)
    for lot in lots:
        lot.noticed_at = utcnow()
        per_member[lot.member_id].append(lot)
    for member_id, member_lots in per_member.items():
        first = min(lot.expires_at for lot in member_lots if lot.expires_at is not None)
        await notices.notify_expiring(
            ctx,
            member_id,
            points=sum(lot.remaining for lot in member_lots),
            expires_at=first,
            balance=await ledger.balance(ctx, member_id),
            lot_id=member_lots[0].id,
        )


async def sweep(rt: Runtime) -> int:
    """Cron: expire due lots tenant by tenant (RLS stays on)."""
    expired = 0
    for tenant_id in await rt.tenants.ids():
        try:
            expired += await expire_job(rt, tenant_id)
        except Exception:
            log.exception("points sweep: tenant %s failed", tenant_id)
    return expired


def job_specs() -> list[JobSpec]:
    return [
        JobSpec(name=EXPIRE_JOB, function=expire_job),
        JobSpec(name=SWEEP_JOB, function=sweep, retries=0, timeout_s=600),
    ]


def cron_specs() -> list[CronSpec]:
    return [CronSpec(job=SWEEP_JOB, cron="7 * * * *")]
