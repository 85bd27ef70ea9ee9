"""Stock changes: one conditional UPDATE each, and a ledger row for every change.

Reading and then writing is never the way: two buyers would both read "1 left". The decrement
``UPDATE skus SET stock = stock - :n WHERE … AND stock - safety_stock >= :n`` either happens
whole or not at all, and the database serialises it per row.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update

from core.catalog.models import Sku
from core.context import TenantContext
from core.errors import AppError
from core.inventory.models import StockMovement

# Stock is a 32-bit column; nothing real comes near this, and refusing it keeps a runaway
# ERP delta a clear 4xx instead of a database overflow.
MAX_STOCK = 1_000_000_000


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


def unknown_sku(sku_id: str) -> AppError:
    return AppError(f"no SKU {sku_id}", code="inventory.unknown_sku", status=404)


async def lock_stock(ctx: TenantContext, sku_ids: Iterable[str]) -> dict[str, int]:
    """Current stock of these SKUs, their rows locked FOR UPDATE until the transaction ends
    (in id order, so two batches over the same SKUs never deadlock). Unknown ids are absent.
    For writes whose ledger needs the previous value: an absolute set cannot learn it from
    its own UPDATE (PostgreSQL before 18 has no ``RETURNING OLD``)."""
    ids = sorted(set(sku_ids))
    if not ids:
        return {}
    query = select(Sku.id, Sku.stock).where(Sku.id.in_(ids)).order_by(Sku.id).with_for_update()
    return {sku_id: stock for sku_id, stock in (await ctx.session.execute(query))}


async def write_stock(
    ctx: TenantContext, sku_id: str, previous: int, stock: int, *, reason: str, ref: str
) -> None:
    """Set a SKU's stock that ``lock_stock`` locked and read as ``previous``: one UPDATE,
    and a ledger row when it changed."""
    if not 0 <= stock <= MAX_STOCK:
        raise AppError(f"stock must be 0..{MAX_STOCK}", code="inventory.invalid_quantity")
    await ctx.session.execute(
        update(Sku)
        .where(Sku.id == sku_id)
        .values(stock=stock)
        .execution_options(synchronize_session=False)
    )
    if stock != previous:
        ctx.session.add(
            StockMovement(
                sku_id=sku_id, delta=stock - previous, balance=stock, reason=reason, ref=ref
            )
        )


async def set_stock(
    ctx: TenantContext, sku_id: str, stock: int, *, reason: str = "manual", ref: str
) -> int:
    """Set the stock to ``stock`` (a stock count); return the previous value."""
    previous = (await lock_stock(ctx, [sku_id])).get(sku_id)
    if previous is None:
        raise unknown_sku(sku_id)
    await write_stock(ctx, sku_id, previous, stock, reason=reason, ref=ref)
    return previous


async def adjust_stock(
    ctx: TenantContext, sku_id: str, delta: int, *, reason: str = "manual", ref: str
) -> int:
    """Add (or with a negative ``delta`` take) units; return the stock after. One
    conditional UPDATE: it never goes below zero, whatever runs beside it. Unlike
    ``reserve`` it ignores the safety stock, which is the merchant's own to count."""
    if delta == 0:
        raise AppError("delta must not be zero", code="inventory.invalid_quantity")
    balance = await ctx.session.scalar(
        update(Sku)
        .where(Sku.id == sku_id, Sku.stock + delta >= 0, Sku.stock + delta <= MAX_STOCK)
        .values(stock=Sku.stock + delta)
        .returning(Sku.stock)
        .execution_options(synchronize_session=False)
    )
    if balance is None:
        if await ctx.session.scalar(select(Sku.id).where(Sku.id == sku_id)) is None:
            raise unknown_sku(sku_id)
        raise InsufficientStock(f"stock of SKU {sku_id} cannot change by {delta}")
    ctx.session.add(
        StockMovement(sku_id=sku_id, delta=delta, balance=balance, reason=reason, ref=ref)
    )
    return balance
