"""Stock changes: one conditional UPDATE each, and a ledger row for every change.

Reading and then writing is never the way: two buyers would both read "1 left". The decrement
``UPDATE skus SET stock = stock - :n WHERE … AND stock - safety_stock >= :n`` either happens
whole or not at all, and the database serialises it per row.
"""

from __future__ import annotations

from sqlalchemy import update

from core.catalog.models import Sku
from core.context import TenantContext
from core.errors import AppError
from core.inventory.models import StockMovement


class InsufficientStock(AppError):
    status = 409
    code = "inventory.insufficient_stock"


async def reserve(
    ctx: TenantContext,
    sku_id: str,
    quantity: int,
    *,
    ref: str,
    reason: str = "order_reserve",
    respect_safety_stock: bool = True,
) -> int:
    """Take ``quantity`` units; return the stock left. The storefront sells only stock above
    the safety stock, so orders pass ``respect_safety_stock=True``."""
    if quantity <= 0:
        raise AppError("quantity must be positive", code="inventory.invalid_quantity")
    floor = Sku.safety_stock if respect_safety_stock else 0
    balance = await ctx.session.scalar(
        update(Sku)
        .where(Sku.id == sku_id, Sku.stock - floor >= quantity)
        .values(stock=Sku.stock - quantity)
        .returning(Sku.stock)
        .execution_options(synchronize_session=False)
    )
    if balance is None:
        raise InsufficientStock(f"not enough stock for SKU {sku_id}")
    ctx.session.add(
        StockMovement(sku_id=sku_id, delta=-quantity, balance=balance, reason=reason, ref=ref)
    )
    return balance


async def release(
    ctx: TenantContext, sku_id: str, quantity: int, *, ref: str, reason: str = "order_release"
) -> int:
    """Give ``quantity`` units back (a cancelled order, a refund of unshipped goods)."""
    if quantity <= 0:
        raise AppError("quantity must be positive", code="inventory.invalid_quantity")
    balance = await ctx.session.scalar(
        update(Sku)
        .where(Sku.id == sku_id)
        .values(stock=Sku.stock + quantity)
        .returning(Sku.stock)
        .execution_options(synchronize_session=False)
    )
    if balance is None:
        raise AppError(f"no SKU {sku_id}", code="inventory.unknown_sku", status=404)
    ctx.session.add(
        StockMovement(sku_id=sku_id, delta=quantity, balance=balance, reason=reason, ref=ref)
    )
    return balance
