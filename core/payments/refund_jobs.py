"""The refunds' background jobs. They call the provider outside any database transaction and
apply its answer through ``refunds.apply_refund_result``, so each is safe to run twice; the
provider deduplicates a repeated submission on ``out_refund_no`` (the refund's id).

- ``refunds.submit(tenant_id, refund_id)``: enqueued (after commit) when a refund becomes
  ``processing``; sends it to the provider. A provider error fails the job, which the queue
  retries; the reconcile job picks up whatever is still unsent after that.
- ``refunds.reconcile``: every minute, tenant by tenant, the refunds still ``processing`` a
  minute after they were decided and not looked at in the last minute: one the provider never
  acknowledged is submitted again, the others are asked about (a lost notification).

One tenant's or one refund's failure never stops the rest.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update

from core.context import TenantInfo
from core.db import utcnow
from core.errors import AppError
from core.jobs import CronSpec, JobSpec
from core.payments.accounts import load_account, notify_url
from core.payments.models import Payment, Refund
from core.payments.providers import ProviderError, RefundRequest
from core.payments.refunds import SUBMIT_JOB, apply_refund_result, submit_key
from core.runtime import Runtime

log = logging.getLogger("storeplug.refunds.jobs")

RECONCILE_JOB = "refunds.reconcile"
# A provider answers a refund within seconds; look at one again after this long.
QUIET = timedelta(seconds=60)
BATCH = 100  # refunds per tenant per run; the next run takes the rest
WECHAT_REASON_LENGTH = 80  # WeChat Pay's limit on a refund's reason


async def _note(rt: Runtime, tenant: TenantInfo, refund_id: str, status: str) -> None:
    """Show the merchant why a processing refund is stuck (the provider's error)."""
    async with rt.db.tenant_session(tenant.id) as session:
        await session.execute(
            update(Refund)
            .where(Refund.id == refund_id, Refund.status == "processing")
            .values(provider_status=status[:32], checked_at=utcnow())
            .execution_options(synchronize_session=False)
        )


async def submit(rt: Runtime, tenant_id: str, refund_id: str) -> bool:
    """Job: send one processing refund to its provider and apply the answer. True when the
    refund was settled by the answer (succeeded or failed)."""
    tenant = await rt.tenants.by_id(tenant_id)
    if tenant is None:
        return False
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, tenant.id)
        refund = await session.get(Refund, (tenant.id, refund_id))
        payment = await session.get(Payment, (tenant.id, refund.payment_id)) if refund else None
    if refund is None or payment is None or refund.status != "processing":
        return False  # settled already (a repeat), or gone
    provider, account = await load_account(rt, tenant, refund.provider)
    request = RefundRequest(
        out_trade_no=payment.id,
        out_refund_no=refund.id,
        amount=refund.amount,
        total=payment.paid_amount or payment.amount,
        reason=(refund.reason or "refund")[:WECHAT_REASON_LENGTH],
        notify_url=notify_url(rt, tenant.slug, refund.provider),
    )
    try:
        result = await provider.refund(rt, account, request)
    except ProviderError as exc:
        # The provider's own error code when it gave one (WeChat Pay's NOT_ENOUGH…).
        word = getattr(exc, "wechat_code", "") or exc.detail
        await _note(rt, tenant, refund.id, f"error: {word}")
        raise
    if result.out_refund_no != refund.id:
        raise ProviderError(f"the provider answered about {result.out_refund_no}, not {refund.id}")
    return await apply_refund_result(rt, tenant, result, actor=f"job:{SUBMIT_JOB}")


async def recheck(rt: Runtime, tenant: TenantInfo, refund_id: str) -> str:
    """Look at one stale processing refund: submit it again if the provider never
    acknowledged it, else ask the provider and apply its answer. Returns what it did:
    ``skipped`` (settled, or looked at by someone else just now), ``resubmitted``,
    ``asked``."""
    now = utcnow()
    async with rt.db.tenant_session(tenant.id) as session:
        # Claim the look: of two overlapping runs, one does it.
        claimed = (
            await session.execute(
                update(Refund)
                .where(
                    Refund.id == refund_id,
                    Refund.status == "processing",
                    or_(Refund.checked_at.is_(None), Refund.checked_at <= now - QUIET),
                )
                .values(checked_at=now)
                .returning(Refund.provider_refund_id, Refund.provider)
                .execution_options(synchronize_session=False)
            )
        ).first()
    if claimed is None:
        return "skipped"
    acknowledged, provider_name = claimed
    if not acknowledged:
        await rt.jobs.enqueue(
            SUBMIT_JOB,
            key=submit_key(tenant.id, refund_id),
            tenant_id=tenant.id,
            refund_id=refund_id,
        )
        return "resubmitted"
    provider, account = await load_account(rt, tenant, provider_name)
    result = await provider.query_refund(rt, account, refund_id)
    await apply_refund_result(rt, tenant, result, actor=f"job:{RECONCILE_JOB}")
    return "asked"


async def _stale(rt: Runtime) -> list[tuple[str, list[str]]]:
    """(tenant id, ids of its stale processing refunds), found in one read-only transaction
    with each tenant set in turn (row-level security stays on)."""
    cutoff = utcnow() - QUIET
    tenant_ids = await rt.tenants.ids()
    async with rt.db.read_session() as session:
        found = []
        for tenant_id in tenant_ids:
            await rt.db.enter_tenant(session, tenant_id)
            ids = (
                await session.scalars(
                    select(Refund.id)
                    .where(
                        Refund.status == "processing",
                        Refund.created_at <= cutoff,
                        or_(Refund.decided_at.is_(None), Refund.decided_at <= cutoff),
                        or_(Refund.checked_at.is_(None), Refund.checked_at <= cutoff),
                    )
                    .order_by(Refund.created_at)
                    .limit(BATCH)
                )
            ).all()
            if ids:
                found.append((tenant_id, list(ids)))
    return found


async def reconcile(rt: Runtime) -> dict[str, int]:
    """Cron job: every stale processing refund of every tenant; counts what was done."""
    done: dict[str, int] = {"skipped": 0, "resubmitted": 0, "asked": 0, "failed": 0}
    for tenant_id, refund_ids in await _stale(rt):
        tenant = await rt.tenants.by_id(tenant_id)
        if tenant is None:
            continue
        for refund_id in refund_ids:
            try:
                done[await recheck(rt, tenant, refund_id)] += 1
            except AppError as exc:
                done["failed"] += 1
                log.warning("refund %s of tenant %s: %s", refund_id, tenant_id, exc.detail)
            except Exception:
                done["failed"] += 1
                log.exception(
                    "%s: refund %s of tenant %s failed", RECONCILE_JOB, refund_id, tenant_id
                )
    return done


async def _submit_job(rt: Any, tenant_id: str, refund_id: str) -> None:
    await submit(rt, tenant_id, refund_id)


async def _reconcile_job(rt: Any) -> None:
    await reconcile(rt)


JOBS: list[JobSpec] = [
    JobSpec(name=SUBMIT_JOB, function=_submit_job, retries=3, retry_delay_s=5.0),
    JobSpec(name=RECONCILE_JOB, function=_reconcile_job, retries=0, timeout_s=300),
]
CRONS: list[CronSpec] = [CronSpec(job=RECONCILE_JOB, cron="* * * * *")]
