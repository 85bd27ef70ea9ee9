"""The orders' background jobs. Each is idempotent: it checks the state before it acts, and a
move another worker made first is simply skipped.

- ``orders.expire_unpaid(tenant_id, order_id)``: enqueued at placement for the payment
  deadline; cancels the order if it is still unpaid by then (stock released, hooks fired).
- ``orders.sweep_unpaid``: every minute, the safety net for lost timers: every overdue unpaid
  order of every tenant.
- ``orders.auto_complete``: shipped orders older than the store's ``auto_complete_days``.

Sweeps go tenant by tenant: the ids come from the tenant directory (``rt.tenants.ids()``),
and each tenant's rows are read with that tenant set (row-level security stays on). Each
order moves in a transaction of its own, so one failure does not hold back the rest.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from core.context import Principal, TenantInfo
from core.db import utcnow
from core.errors import AppError
from core.orders.models import Order
from core.orders.state import transition
from core.runtime import Runtime
from core.store.models import StoreSettings

log = logging.getLogger("storeplug.orders.jobs")

EXPIRE_JOB = "orders.expire_unpaid"
SWEEP_JOB = "orders.sweep_unpaid"
AUTO_COMPLETE_JOB = "orders.auto_complete"
TIMEOUT_REASON = "payment timeout"
BATCH = 500  # orders per tenant per sweep run; the next run takes the rest


def expire_key(tenant_id: str, order_id: str) -> str:
    """The job key of one order's timer: enqueueing it twice is a no-op."""
    return f"orders.expire:{tenant_id}:{order_id}"


async def _move(
    rt: Runtime,
    tenant: TenantInfo,
    order_id: str,
    source: str,
    target: str,
    job: str,
    reason: str,
    due: datetime,
) -> bool:
    """Move one order if it is still in ``source`` and due; False when there was nothing to
    do (already moved, not due yet, gone)."""
    principal = Principal(kind="job", id=job, tenant_id=tenant.id)
    try:
        async with rt.tenant_context(tenant, principal) as ctx:
            order = await ctx.session.get(Order, (tenant.id, order_id))
            if order is None or order.status != source:
                return False
            stamp = order.payment_deadline if source == "pending_payment" else order.shipped_at
            if stamp is None or stamp > due:
                return False
            await transition(ctx, order, target, actor=f"job:{job}", reason=reason)
    except AppError as exc:
        if exc.code in ("order.state_changed", "order.invalid_transition"):
            return False  # someone else moved it first (a payment, a cancel)
        raise
    return True


async def expire_unpaid(rt: Runtime, tenant_id: str, order_id: str) -> bool:
    """Job: cancel one order whose payment window has closed, if it is still unpaid."""
    tenant = await rt.tenants.by_id(tenant_id)
    if tenant is None:
        return False
    return await _move(
        rt,
        tenant,
        order_id,
        "pending_payment",
        "cancelled",
        EXPIRE_JOB,
        TIMEOUT_REASON,
        utcnow(),
    )


# (tenant id, the cutoff the order's stamp must not pass, ids of the orders to move)
Found = list[tuple[str, datetime, list[str]]]


async def _sweep(rt: Runtime, job: str, found: Found, source: str, target: str, reason: str) -> int:
    moved = 0
    for tenant_id, cutoff, order_ids in found:
        tenant = await rt.tenants.by_id(tenant_id)
        if tenant is None:
            continue
        for order_id in order_ids:
            try:
                if await _move(rt, tenant, order_id, source, target, job, reason, cutoff):
                    moved += 1
            except Exception:
                # One bad order (a plugin's hook refusing) must not stop the sweep.
                log.exception("%s: order %s of tenant %s failed", job, order_id, tenant_id)
    return moved


async def sweep_unpaid(rt: Runtime) -> int:
    """Cron job: cancel every overdue unpaid order, tenant by tenant (lost timers)."""
    now = utcnow()
    found: Found = []
    every = await rt.tenants.ids()
    # One read-only transaction finds the work (on SQLite it does not take the write lock),
    # with each tenant set in turn for its query.
    async with rt.db.read_session() as session:
        for tenant_id in every:
            await rt.db.enter_tenant(session, tenant_id)
            ids = (
                await session.scalars(
                    select(Order.id)
                    .where(Order.status == "pending_payment", Order.payment_deadline <= now)
                    .order_by(Order.payment_deadline)
                    .limit(BATCH)
                )
            ).all()
            if ids:
                found.append((tenant_id, now, list(ids)))
    return await _sweep(rt, SWEEP_JOB, found, "pending_payment", "cancelled", TIMEOUT_REASON)


def _default_auto_complete_days() -> int:
    default = StoreSettings.__table__.c.auto_complete_days.default
    return int(getattr(default, "arg", 7))


async def auto_complete(rt: Runtime) -> int:
    """Cron job: complete shipped orders the buyer never confirmed within the store's
    ``auto_complete_days``."""
    now = utcnow()
    found: Found = []
    fallback = _default_auto_complete_days()
    every = await rt.tenants.ids()
    async with rt.db.read_session() as session:
        for tenant_id in every:
            await rt.db.enter_tenant(session, tenant_id)
            days = await session.scalar(select(StoreSettings.auto_complete_days))
            cutoff = now - timedelta(days=fallback if days is None else days)
            ids = (
                await session.scalars(
                    select(Order.id)
                    .where(Order.status == "shipped", Order.shipped_at <= cutoff)
                    .order_by(Order.shipped_at)
                    .limit(BATCH)
                )
            ).all()
            if ids:
                found.append((tenant_id, cutoff, list(ids)))
    return await _sweep(rt, AUTO_COMPLETE_JOB, found, "shipped", "completed", "auto-completed")
