"""What the stamp card does when the shop's orders move (called from ``plugin``'s
hookimpls, in the caller's transaction)."""

from __future__ import annotations

from core.context import TenantContext
from core.orders.models import Order

from storeplug_stampcard import service


async def order_paid(ctx: TenantContext, order: Order) -> None:
    if order.payable < service.settings_of(ctx.tenant).min_order_fen:
        return
    await service.stamp(ctx, order.member_id, "order", order.id)


async def order_refunded(ctx: TenantContext, order: Order) -> None:
    await service.revoke_order_stamp(ctx, order.id)
