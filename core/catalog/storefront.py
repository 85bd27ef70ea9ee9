"""What the mini-program sees of the catalog: the category tree, on-shelf products (filtered,
sorted, keyset-paged), details with SKUs, barcode scans, and the plugins' decorations.

Stock is shown as a state, never as a number: exact counts let competitors scrape a shop's
sales and let bots time flash sales; a buyer who asks for more than there is learns it from
the cart (``cart.insufficient_stock``). "low" tells them to hurry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import case, func, select

from core.catalog import schemas as s
from core.catalog.models import Product, Sku
from core.catalog.service import category_scope, product_missing, title_matches
from core.commerce import CatalogView, Decoration, ProductCard
from core.context import TenantContext, TenantInfo
from core.paging import Page, keyset_page_of, keyset_paged
from core.plugins import call_acting
from core.runtime import Runtime

LOW_STOCK = 5  # sellable units at or below which a SKU or product shows "low"

# Each sort ends with the id, so the order is total and the keyset cursor is exact.
SORTS: dict[str, list[tuple[Any, bool]]] = {
    "default": [(Product.sort, False), (Product.id, True)],  # the merchant's order
    "sales": [(Product.sales, True), (Product.id, True)],
    "price_asc": [(Product.min_price, False), (Product.id, True)],
    "price_desc": [(Product.min_price, True), (Product.id, True)],
    "new": [(Product.id, True)],  # ULIDs are creation order
}


@asynccontextmanager
async def read_context(rt: Runtime, tenant: TenantInfo) -> AsyncIterator[TenantContext]:
    """A read-only transaction for browsing. On SQLite it reads a WAL snapshot instead of
    taking the write lock (``BEGIN IMMEDIATE``), so browsing never queues behind checkouts;
    on PostgreSQL it is tenant-scoped and under RLS like any other."""
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, tenant.id)
        yield TenantContext(
            tenant=tenant,
            session=session,
            hooks=rt.plugins.hooks_for(tenant.enabled_plugins),
            queue=rt.jobs,
        )


def stock_state(sellable: int) -> s.StockState:
    if sellable <= 0:
        return "sold_out"
    return "low" if sellable <= LOW_STOCK else "in_stock"


def _sellable(sku: Sku) -> int:
    return max(sku.stock - sku.safety_stock, 0)


def _card(row: Product) -> ProductCard:
    return ProductCard(
        id=row.id,
        title=row.title,
        image=row.images[0] if row.images else "",
        min_price=row.min_price,
        category_id=row.category_id,
    )


async def decorations(
    ctx: TenantContext, products: Sequence[Product]
) -> dict[str, list[s.DecorationOut]]:
    """Badges and activity prices from the tenant's enabled plugins: the async loading hook
    first (one call for the whole list), then the pure deciding hook."""
    if not products:
        return {}
    view = CatalogView(tenant_id=ctx.tenant_id, products=[_card(row) for row in products])
    await call_acting(ctx.hooks.load_catalog_data(ctx=ctx, view=view))
    wanted = {row.id for row in products}
    found: dict[str, list[s.DecorationOut]] = {}
    for batch in ctx.hooks.catalog_decorations(view=view):
        for item in batch or ():
            if isinstance(item, Decoration) and item.product_id in wanted:
                found.setdefault(item.product_id, []).append(
                    s.DecorationOut(
                        source=item.source,
                        badge=item.badge,
                        activity_price=item.activity_price,
                        activity=item.activity,
                    )
                )
    return found


def _badges(items: Sequence[s.DecorationOut]) -> list[str]:
    return list(dict.fromkeys(item.badge for item in items if item.badge))


async def list_products(
    ctx: TenantContext,
    *,
    limit: int,
    cursor: str | None,
    sort: str = "default",
    category_id: str | None = None,
    keyword: str | None = None,
) -> Page[s.StoreProductCard]:
    query = select(Product).where(Product.status == "on")
    if category_id is not None:
        query = query.where(Product.category_id.in_(await category_scope(ctx, category_id)))
    if keyword and keyword.strip():
        query = query.where(title_matches(ctx, keyword.strip()))
    order = SORTS[sort]
    # The sort is the cursor's tag: a cursor of another sort is refused, not misread.
    rows = (await ctx.session.scalars(keyset_paged(query, order, limit, cursor, sort))).all()
    visible = rows[:limit]
    ids = [row.id for row in visible]
    sellable_sum = func.sum(
        case((Sku.stock > Sku.safety_stock, Sku.stock - Sku.safety_stock), else_=0)
    )
    totals = await ctx.session.execute(
        select(Sku.product_id, sellable_sum)
        .where(Sku.product_id.in_(ids), Sku.active.is_(True))
        .group_by(Sku.product_id)
    )
    sellable = {pid: int(total or 0) for pid, total in totals}
    decorated = await decorations(ctx, visible)

    def card(row: Product) -> s.StoreProductCard:
        found = decorated.get(row.id, [])
        return s.StoreProductCard(
            id=row.id,
            title=row.title,
            image=row.images[0] if row.images else "",
            category_id=row.category_id,
            min_price=row.min_price,
            sales=row.sales,
            stock_state=stock_state(sellable.get(row.id, 0)),
            badges=_badges(found),
            decorations=found,
        )

    def key(row: Product) -> list[int | str]:
        return [getattr(row, column.key) for column, _ in order]

    return keyset_page_of(rows, limit, card, key, sort)


async def _detail(ctx: TenantContext, product: Product) -> s.StoreProduct:
    query = select(Sku).where(Sku.product_id == product.id, Sku.active.is_(True))
    skus = (await ctx.session.scalars(query.order_by(Sku.id))).all()
    found = (await decorations(ctx, [product])).get(product.id, [])
    return s.StoreProduct(
        id=product.id,
        title=product.title,
        subtitle=product.subtitle,
        images=list(product.images),
        description=product.description,
        category_id=product.category_id,
        tags=list(product.tags),
        min_price=product.min_price,
        sales=product.sales,
        stock_state=stock_state(sum(_sellable(sku) for sku in skus)),
        skus=[
            s.StoreSku(
                id=sku.id,
                specs=dict(sku.specs),
                price=sku.price,
                list_price=sku.list_price,
                stock_state=stock_state(_sellable(sku)),
            )
            for sku in skus
        ],
        badges=_badges(found),
        decorations=found,
    )


async def get_product(ctx: TenantContext, product_id: str) -> s.StoreProduct:
    query = select(Product).where(Product.id == product_id, Product.status == "on")
    product = await ctx.session.scalar(query)
    if product is None:
        raise product_missing(product_id)
    return await _detail(ctx, product)


async def by_barcode(ctx: TenantContext, code: str) -> s.BarcodeHit:
    """Scan-to-cart: the active SKU with this barcode, if its product is on the shelf."""
    row = (
        await ctx.session.execute(
            select(Sku.id, Product)
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.barcode == code, Sku.active.is_(True), Product.status == "on")
        )
    ).first()
    if row is None:
        raise product_missing(f"with barcode {code}")
    sku_id, product = row
    return s.BarcodeHit(sku_id=sku_id, product=await _detail(ctx, product))
