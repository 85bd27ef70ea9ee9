"""The merchant's view of stock: one SKU's stock, manual set and adjust (each a ledger row),
safety stock, the ledger, and the low-stock list."""

from __future__ import annotations

from sqlalchemy import select, update

from core.auth import require_staff
from core.catalog.models import Product, Sku
from core.catalog.service import DELETED, actor
from core.context import TenantContext
from core.inventory import schemas as s
from core.inventory.models import StockMovement
from core.inventory.service import adjust_stock, set_stock, unknown_sku
from core.paging import Page, keyset_page_of, keyset_paged


def stock_out(sku: Sku) -> s.StockOut:
    return s.StockOut(
        sku_id=sku.id,
        product_id=sku.product_id,
        stock=sku.stock,
        safety_stock=sku.safety_stock,
        sellable=max(sku.stock - sku.safety_stock, 0),
        active=sku.active,
    )


async def _sku(ctx: TenantContext, sku_id: str) -> Sku:
    # populate_existing: the stock was just changed by an UPDATE the identity map missed.
    query = select(Sku).where(Sku.id == sku_id).execution_options(populate_existing=True)
    sku = await ctx.session.scalar(query)
    if sku is None:
        raise unknown_sku(sku_id)
    return sku


def _ref(ctx: TenantContext, note: str) -> str:
    # Who, then the note: "staff:<26> <40>" fits the 80 characters of ``ref``.
    return f"{actor(ctx)} {note}".strip()


async def get_stock(ctx: TenantContext, sku_id: str) -> s.StockOut:
    require_staff(ctx, "clerk")
    return stock_out(await _sku(ctx, sku_id))


async def set_sku_stock(ctx: TenantContext, sku_id: str, data: s.StockSet) -> s.StockOut:
    require_staff(ctx, "manager")
    await set_stock(ctx, sku_id, data.stock, reason="manual", ref=_ref(ctx, data.note))
    return stock_out(await _sku(ctx, sku_id))


async def adjust_sku_stock(ctx: TenantContext, sku_id: str, data: s.StockAdjust) -> s.StockOut:
    require_staff(ctx, "manager")
    await adjust_stock(ctx, sku_id, data.delta, reason="manual", ref=_ref(ctx, data.note))
    return stock_out(await _sku(ctx, sku_id))


async def set_safety_stock(ctx: TenantContext, sku_id: str, data: s.SafetyStockIn) -> s.StockOut:
    require_staff(ctx, "manager")
    result = await ctx.session.execute(
        update(Sku)
        .where(Sku.id == sku_id)
        .values(safety_stock=data.safety_stock)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise unknown_sku(sku_id)
    return stock_out(await _sku(ctx, sku_id))


NEWEST = [(StockMovement.id, True)]


async def movements(
    ctx: TenantContext, sku_id: str, *, limit: int, cursor: str | None
) -> Page[s.MovementOut]:
    """The SKU's ledger, newest first."""
    require_staff(ctx, "clerk")
    await _sku(ctx, sku_id)  # another tenant's SKU is a 404, not an empty ledger
    query = select(StockMovement).where(StockMovement.sku_id == sku_id)
    rows = (await ctx.session.scalars(keyset_paged(query, NEWEST, limit, cursor, "l"))).all()

    def out(row: StockMovement) -> s.MovementOut:
        return s.MovementOut(
            id=row.id,
            sku_id=row.sku_id,
            delta=row.delta,
            balance=row.balance,
            reason=row.reason,
            ref=row.ref,
            created_at=row.created_at,
        )

    return keyset_page_of(rows, limit, out, lambda row: [row.id], "l")


async def low_stock(
    ctx: TenantContext, *, threshold: int, limit: int, cursor: str | None
) -> Page[s.LowStockOut]:
    """Active SKUs of live products with ``stock <= safety_stock + threshold``: with the
    default threshold 0, exactly those the storefront shows as sold out."""
    require_staff(ctx, "clerk")
    query = (
        select(Sku, Product.title)
        .join(Product, Product.id == Sku.product_id)
        .where(
            Sku.active.is_(True),
            Product.status != DELETED,
            Sku.stock <= Sku.safety_stock + threshold,
        )
    )
    ordered = keyset_paged(query, [(Sku.id, False)], limit, cursor, "low")
    rows = (await ctx.session.execute(ordered)).all()

    def out(row: tuple[Sku, str]) -> s.LowStockOut:
        sku, title = row
        return s.LowStockOut(
            sku_id=sku.id,
            product_id=sku.product_id,
            title=title,
            specs=dict(sku.specs),
            barcode=sku.barcode,
            stock=sku.stock,
            safety_stock=sku.safety_stock,
        )

    return keyset_page_of(rows, limit, out, lambda row: [row[0].id], "low")
