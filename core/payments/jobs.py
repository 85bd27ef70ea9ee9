"""The payments' background jobs. Each asks the provider first and acts on its answer, so it
is safe to run twice, and it calls the provider outside any database transaction.

- ``payments.reconcile``: every minute, the payments still pending a minute after they were
  opened (and not asked about in the last minute), tenant by tenant: one the provider says was
  paid is settled (a lost notification), one it closed is closed, and one past its order's
  deadline is closed at the provider, then here.
- ``payments.close_for_order(tenant_id, order_id)``: enqueued when an order is cancelled;
  closes its pending payments at the provider so they can no longer be paid.

Sweeps go tenant by tenant with the tenant set (row-level security stays on). A provider
error is logged and the payment is asked about again on the next run; one tenant's failure
never stops the others.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select, update

from core.context import TenantInfo
from core.db import utcnow
from core.errors import AppError
from core.jobs import CronSpec, JobSpec
from core.payments.accounts import load_account
from core.payments.models import Payment
from core.payments.service import apply_payment_result
from core.runtime import Runtime

log = logging.getLogger("storeplug.payments.jobs")

RECONCILE_JOB = "payments.reconcile"
CLOSE_JOB = "payments.close_for_order"
# A notification normally arrives within seconds; ask about a payment after this long.
QUIET = timedelta(seconds=60)
BATCH = 100  # payments per tenant per run; the next run takes the rest


def close_key(tenant_id: str, order_id: str) -> str:
    return f"payments.close:{tenant_id}:{order_id}"


async def _mark(rt: Runtime, tenant: TenantInfo, payment_id: str, *, closed: bool) -> None:
    """Stamp the payment as asked about, and close it if it is still pending."""
    now = utcnow()
    query = update(Payment).where(Payment.id == payment_id)
    if closed:
        query = query.where(Payment.status == "pending").values(status="closed", updated_at=now)
    async with rt.db.tenant_session(tenant.id) as session:
        await session.execute(
            query.values(checked_at=now).execution_options(synchronize_session=False)
        )


async def check_payment(
    rt: Runtime, tenant: TenantInfo, payment_id: str, *, job: str, close: bool = False
) -> str:
    """Ask the provider about one pending payment and act on the answer; the payment's
    status afterwards (``pending`` when nothing changed). ``close``: close it even before
    its deadline (its order was cancelled)."""
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, tenant.id)
        payment = await session.get(Payment, (tenant.id, payment_id))
    if payment is None or payment.status != "pending":
        return payment.status if payment is not None else "gone"
    close = close or payment.expires_at <= utcnow()
    if not payment.prepay_id:
        # Never opened at the provider (or the buyer never got to pay it): nothing to ask.
        await _mark(rt, tenant, payment.id, closed=close)
        return "closed" if close else "pending"
    provider, account = await load_account(rt, tenant, payment.provider)
    result = await provider.query(rt, account, payment.id)
    if result.state == "succeeded":
        await apply_payment_result(
            rt, tenant, payment.id, result, actor=f"job:{job}", provider=payment.provider
        )
        await _mark(rt, tenant, payment.id, closed=False)
        return "succeeded"
    if result.state == "pending" and close:
        await provider.close(rt, account, payment.id)
    closed = result.state == "closed" or close
    await _mark(rt, tenant, payment.id, closed=closed)
    return "closed" if closed else "pending"


async def _check_all(
    rt: Runtime, tenant: TenantInfo, payment_ids: list[str], *, job: str, close: bool = False
) -> dict[str, str]:
    outcomes: dict[str, str] = {}
    for payment_id in payment_ids:
        try:
            outcomes[payment_id] = await check_payment(rt, tenant, payment_id, job=job, close=close)
        except AppError as exc:
            # The provider is down, refused, or the account is gone: ask again next run.
            log.warning(
                "%s: payment %s of tenant %s: %s %s",
                job,
                payment_id,
                tenant.id,
                exc.code,
                exc.detail,
            )
            await _mark(rt, tenant, payment_id, closed=False)
        except Exception:
            log.exception("%s: payment %s of tenant %s failed", job, payment_id, tenant.id)
    return outcomes


async def reconcile(rt: Runtime) -> dict[str, str]:
    """Cron job: every payment pending for a while, tenant by tenant; returns what became of
    each one asked about (payment id → status)."""
    now = utcnow()
    found: list[tuple[str, list[str]]] = []
    tenant_ids = await rt.tenants.ids()
    async with rt.db.read_session() as session:
        for tenant_id in tenant_ids:
            await rt.db.enter_tenant(session, tenant_id)
            ids = (
                await session.scalars(
                    select(Payment.id)
                    .where(
                        Payment.status == "pending",
                        Payment.created_at <= now - QUIET,
                        or_(Payment.checked_at.is_(None), Payment.checked_at <= now - QUIET),
                    )
                    .order_by(Payment.created_at)
                    .limit(BATCH)
                )
            ).all()
            if ids:
                found.append((tenant_id, list(ids)))
    outcomes: dict[str, str] = {}
    for tenant_id, payment_ids in found:
        try:
            tenant = await rt.tenants.by_id(tenant_id)
            if tenant is not None:
                outcomes |= await _check_all(rt, tenant, payment_ids, job=RECONCILE_JOB)
        except Exception:
            log.exception("%s: tenant %s failed", RECONCILE_JOB, tenant_id)
    return outcomes


async def close_for_order(rt: Runtime, tenant_id: str, order_id: str) -> dict[str, str]:
    """Job: close the pending payments of a cancelled order (one paid meanwhile is settled,
    and refunded as late)."""
    tenant = await rt.tenants.by_id(tenant_id)
    if tenant is None:
        return {}
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, tenant.id)
        ids = (
            await session.scalars(
                select(Payment.id).where(Payment.order_id == order_id, Payment.status == "pending")
            )
        ).all()
    return await _check_all(rt, tenant, list(ids), job=CLOSE_JOB, close=True)


async def _reconcile(rt: Runtime) -> None:
    await reconcile(rt)


async def _close_for_order(rt: Runtime, tenant_id: str, order_id: str) -> None:
    await close_for_order(rt, tenant_id, order_id)


JOBS: list[JobSpec] = [
    JobSpec(name=RECONCILE_JOB, function=_reconcile, retries=0, timeout_s=300),
    JobSpec(name=CLOSE_JOB, function=_close_for_order, retries=3, retry_delay_s=5.0),
]
CRONS: list[CronSpec] = [CronSpec(job=RECONCILE_JOB, cron="* * * * *")]
