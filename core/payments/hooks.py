"""Always-on order hookimpls of the payments domain (registered as the core module
"core.payments.hooks"): a cancelled order's pending payments are closed at the provider, by
a job enqueued once the cancel has committed (hooks never call the network); a refund that
succeeded tells the buyer."""

from __future__ import annotations

from sqlalchemy import select

from core.context import TenantContext
from core.hookspecs import hookimpl
from core.orders.models import Order
from core.payments import notices
from core.payments.jobs import CLOSE_JOB, close_key
from core.payments.models import Payment, Refund


@hookimpl
async def order_cancelled(ctx: TenantContext, order: Order, reason: str) -> None:
    pending = await ctx.session.scalar(
        select(Payment.id).where(Payment.order_id == order.id, Payment.status == "pending").limit(1)
    )
    if pending is not None:
        await ctx.jobs.enqueue(
            CLOSE_JOB,
            key=close_key(ctx.tenant_id, order.id),
            tenant_id=ctx.tenant_id,
            order_id=order.id,
        )


@hookimpl
async def refund_succeeded(ctx: TenantContext, refund: Refund, order: Order) -> None:
    await notices.notify_refunded(ctx, refund, order)
