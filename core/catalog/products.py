"""Products (SPU) and their SKUs, merchant side: create with SKUs, patch, soft delete, the
shelf, and the filtered list.

Invariants kept here: ``min_price`` is the lowest price of the product's active SKUs (0 when
it has none); a product on the shelf has at least one active SKU; active SKUs of one product
have distinct specs; a barcode names one SKU per tenant (the unique constraint is the truth).
"""

from __future__ import annotations

from collections.abc import Sequence

from msgspec import UNSET
from sqlalchemy import func, select, update

from core.auth import require_staff
from core.catalog import schemas as s
from core.catalog.models import Category, Product, Sku
from core.catalog.service import (
    DELETED,
    actor,
    category_scope,
    flush,
    product_missing,
    title_matches,
    unknown_category,
)
from core.context import TenantContext
from core.db import new_id, utcnow
from core.errors import Conflict, FieldError, Invalid, NotFound
from core.inventory.models import StockMovement
from core.paging import Page, keyset_page_of, keyset_paged


def sku_out(row: Sku) -> s.SkuOut:
    return s.SkuOut(
        id=row.id,
        product_id=row.product_id,
        specs=dict(row.specs),
        price=row.price,
        list_price=row.list_price,
        barcode=row.barcode,
        weight_g=row.weight_g,
        stock=row.stock,
        safety_stock=row.safety_stock,
        active=row.active,
        created_at=row.created_at,
    )


def product_out(row: Product, skus: Sequence[Sku]) -> s.ProductOut:
    return s.ProductOut(
        id=row.id,
        title=row.title,
        subtitle=row.subtitle,
        images=list(row.images),
        description=row.description,
        category_id=row.category_id,
        status=row.status,
        sort=row.sort,
        tags=list(row.tags),
        sales=row.sales,
        min_price=row.min_price,
        created_at=row.created_at,
        updated_at=row.updated_at,
        skus=[sku_out(sku) for sku in skus],
    )


def barcode_taken(field: str, code: str = "") -> Conflict:
    return Conflict(
        f"barcode {code or 'of a SKU'} is already used by another SKU",
        code="catalog.barcode_taken",
        errors=[FieldError(field=field, message="barcode taken")],
    )


def _violations(category_id: str | None) -> dict[str, Invalid | Conflict]:
    return {
        "barcode": barcode_taken("skus"),  # the constraint does not say which line
        "foreign key": unknown_category("category_id", category_id or ""),
    }


async def _product(ctx: TenantContext, product_id: str, *, lock: bool = False) -> Product:
    query = select(Product).where(Product.id == product_id, Product.status != DELETED)
    if lock:
        # Edits of one product serialise, so min_price is computed from the final SKUs.
        query = query.with_for_update()
    row = await ctx.session.scalar(query)
    if row is None:
        raise product_missing(product_id)
    return row


async def _skus(ctx: TenantContext, product_id: str) -> list[Sku]:
    query = select(Sku).where(Sku.product_id == product_id).order_by(Sku.id)
    return list((await ctx.session.scalars(query)).all())


async def _check_category(ctx: TenantContext, category_id: str | None) -> None:
    if category_id is None:
        return
    if await ctx.session.scalar(select(Category.id).where(Category.id == category_id)) is None:
        raise unknown_category("category_id", category_id)


async def _check_barcodes(ctx: TenantContext, wanted: list[tuple[str, str, str | None]]) -> None:
    """``wanted`` is (field, barcode, the SKU that gets it or None for a new one). A swap
    between two SKUs in one request is refused: do it in two steps."""
    holders: dict[str, str | None] = {}
    fields: dict[str, str] = {}
    for field, code, sku_id in wanted:
        if code in holders:
            raise barcode_taken(field, code)
        holders[code], fields[code] = sku_id, field
    if not holders:
        return
    taken = await ctx.session.execute(select(Sku.barcode, Sku.id).where(Sku.barcode.in_(holders)))
    for held, holder in taken:
        if held is not None and holder != holders[held]:
            raise barcode_taken(fields[held], held)


def _settle(product: Product, skus: Sequence[Sku]) -> None:
    """Re-establish the invariants after SKUs changed (see the module docstring)."""
    active = [sku for sku in skus if sku.active]
    seen: set[tuple[tuple[str, str], ...]] = set()
    for sku in active:
        key = tuple(sorted(sku.specs.items()))
        if key in seen:
            raise Invalid(
                f"two active SKUs have the same specs {dict(key)}",
                code="catalog.duplicate_specs",
                errors=[FieldError(field="skus", message="specs must differ between SKUs")],
            )
        seen.add(key)
    if product.status == "on" and not active:
        raise Conflict("a product on the shelf needs an active SKU", code="catalog.no_active_sku")
    product.min_price = min((sku.price for sku in active), default=0)


def _opening_stock(ctx: TenantContext, skus: Sequence[Sku]) -> None:
    for sku in skus:
        if sku.stock > 0:
            ctx.session.add(
                StockMovement(
                    sku_id=sku.id,
                    delta=sku.stock,
                    balance=sku.stock,
                    reason="initial",
                    ref=actor(ctx),
                )
            )


def _new_skus(product_id: str, count: int) -> list[Sku]:
    """Blank SKUs whose ids sort in the order given: SKUs are listed by id, and ULIDs made
    in the same millisecond are not ordered among themselves."""
    return [_new_sku(product_id, sku_id) for sku_id in sorted(new_id() for _ in range(count))]


def _new_sku(product_id: str, sku_id: str) -> Sku:
    # Every column set here, because the invariants are checked before the INSERT.
    return Sku(
        id=sku_id,
        product_id=product_id,
        specs={},
        price=0,
        list_price=None,
        barcode=None,
        weight_g=0,
        stock=0,
        safety_stock=0,
        active=True,
    )


async def create_product(ctx: TenantContext, data: s.ProductIn) -> s.ProductOut:
    require_staff(ctx, "manager")
    await _check_category(ctx, data.category_id)
    await _check_barcodes(
        ctx,
        [
            (f"skus[{i}].barcode", sku.barcode, None)
            for i, sku in enumerate(data.skus)
            if sku.barcode
        ],
    )
    product = Product(
        title=data.title.strip(),
        subtitle=data.subtitle,
        images=list(data.images),
        description=data.description,
        category_id=data.category_id,
        status=data.status,
        sort=data.sort,
        tags=list(data.tags),
    )
    ctx.session.add(product)
    await flush(ctx, _violations(data.category_id))  # the SKUs need the product's id
    skus = _new_skus(product.id, len(data.skus))
    for sku, item in zip(skus, data.skus, strict=True):
        sku.specs, sku.price, sku.list_price = dict(item.specs), item.price, item.list_price
        sku.barcode, sku.weight_g = item.barcode, item.weight_g
        sku.stock, sku.safety_stock = item.stock, item.safety_stock
    _settle(product, skus)
    ctx.session.add_all(skus)
    await flush(ctx, _violations(data.category_id))
    _opening_stock(ctx, skus)
    return product_out(product, skus)


async def get_product(ctx: TenantContext, product_id: str) -> s.ProductOut:
    require_staff(ctx, "clerk")
    product = await _product(ctx, product_id)
    return product_out(product, await _skus(ctx, product_id))


def _check_patches(patches: Sequence[s.SkuPatch], existing: dict[str, Sku]) -> None:
    named: set[str] = set()
    for i, patch in enumerate(patches):
        field = f"skus[{i}]"
        if patch.id is None:
            if patch.price is UNSET:
                raise Invalid(
                    "a new SKU needs a price",
                    code="catalog.sku_price_required",
                    errors=[FieldError(field=f"{field}.price", message="required for a new SKU")],
                )
            continue
        if patch.id not in existing:
            raise NotFound(
                f"product has no SKU {patch.id}",
                code="catalog.sku_not_found",
                errors=[FieldError(field=f"{field}.id", message="no such SKU on this product")],
            )
        if patch.id in named:
            raise Invalid(
                f"SKU {patch.id} appears twice",
                code="catalog.duplicate_sku",
                errors=[FieldError(field=f"{field}.id", message="named twice")],
            )
        named.add(patch.id)
        if patch.stock is not UNSET:
            raise Invalid(
                "stock of an existing SKU changes through the inventory API (it keeps a ledger)",
                code="catalog.stock_read_only",
                errors=[FieldError(field=f"{field}.stock", message="use the inventory API")],
            )


def _apply_sku(sku: Sku, patch: s.SkuPatch, field: str) -> None:
    if patch.specs is not UNSET:
        sku.specs = dict(patch.specs)
    if patch.price is not UNSET:
        sku.price = patch.price
    if patch.list_price is not UNSET:
        sku.list_price = patch.list_price
    if patch.barcode is not UNSET:
        sku.barcode = patch.barcode
    if patch.weight_g is not UNSET:
        sku.weight_g = patch.weight_g
    if patch.stock is not UNSET:
        sku.stock = patch.stock
    if patch.safety_stock is not UNSET:
        sku.safety_stock = patch.safety_stock
    if patch.active is not UNSET:
        sku.active = patch.active
    if sku.list_price is not None and sku.list_price < sku.price:
        raise Invalid(
            "list_price must not be below price",
            code="catalog.list_price_below_price",
            errors=[FieldError(field=f"{field}.list_price", message="below price")],
        )


async def update_product(ctx: TenantContext, product_id: str, data: s.ProductPatch) -> s.ProductOut:
    require_staff(ctx, "manager")
    product = await _product(ctx, product_id, lock=True)
    skus = await _skus(ctx, product.id)
    existing = {sku.id: sku for sku in skus}
    _check_patches(data.skus, existing)
    if data.category_id is not UNSET:
        await _check_category(ctx, data.category_id)
    await _check_barcodes(
        ctx,
        [
            (f"skus[{i}].barcode", patch.barcode, patch.id)
            for i, patch in enumerate(data.skus)
            if patch.barcode is not UNSET and patch.barcode is not None
        ],
    )
    for name in ("subtitle", "description", "category_id", "status", "sort"):
        value = getattr(data, name)
        if value is not UNSET:
            setattr(product, name, value)
    if data.title is not UNSET:
        product.title = data.title.strip()
    if data.images is not UNSET:
        product.images = list(data.images)
    if data.tags is not UNSET:
        product.tags = list(data.tags)
    fresh = iter(_new_skus(product.id, sum(1 for patch in data.skus if patch.id is None)))
    added = []
    for i, patch in enumerate(data.skus):
        sku = existing[patch.id] if patch.id is not None else next(fresh)
        _apply_sku(sku, patch, f"skus[{i}]")
        if patch.id is None:
            added.append(sku)
    _settle(product, [*skus, *added])
    product.updated_at = utcnow()  # also when only SKUs changed
    ctx.session.add_all(added)
    await flush(ctx, _violations(product.category_id))
    _opening_stock(ctx, added)
    return product_out(product, [*skus, *added])


async def delete_product(ctx: TenantContext, product_id: str) -> None:
    require_staff(ctx, "manager")
    product = await _product(ctx, product_id, lock=True)
    product.status, product.category_id, product.updated_at = DELETED, None, utcnow()
    await ctx.session.execute(
        update(Sku)
        .where(Sku.product_id == product_id)
        .values(active=False, barcode=None)
        .execution_options(synchronize_session=False)
    )


async def set_shelf(ctx: TenantContext, data: s.ShelfIn) -> s.ShelfOut:
    """All or nothing: one unknown id (or one product without an active SKU when putting
    them on the shelf) and nothing changes."""
    require_staff(ctx, "manager")
    ids = list(dict.fromkeys(data.product_ids))
    query = select(Product.id).where(Product.id.in_(ids), Product.status != DELETED)
    found = set((await ctx.session.scalars(query.with_for_update())).all())
    missing = [
        FieldError(field=f"product_ids[{i}]", message="no such product")
        for i, pid in enumerate(data.product_ids)
        if pid not in found
    ]
    if missing:
        raise NotFound(
            "some products do not exist", code="catalog.product_not_found", errors=missing
        )
    if data.status == "on":
        sellable = set(
            (
                await ctx.session.scalars(
                    select(Sku.product_id).where(Sku.product_id.in_(ids), Sku.active.is_(True))
                )
            ).all()
        )
        empty = [
            FieldError(field=f"product_ids[{i}]", message="no active SKU")
            for i, pid in enumerate(data.product_ids)
            if pid not in sellable
        ]
        if empty:
            raise Conflict(
                "a product on the shelf needs an active SKU",
                code="catalog.no_active_sku",
                errors=empty,
            )
    await ctx.session.execute(
        update(Product)
        .where(Product.id.in_(ids))
        .values(status=data.status, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return s.ShelfOut(status=data.status, product_ids=ids)


NEWEST = [(Product.id, True)]


async def list_products(
    ctx: TenantContext,
    *,
    limit: int,
    cursor: str | None,
    status: str | None = None,
    category_id: str | None = None,
    keyword: str | None = None,
) -> Page[s.ProductSummary]:
    """The merchant's list, newest first, deleted products left out."""
    require_staff(ctx, "clerk")
    query = select(Product).where(Product.status != DELETED)
    if status is not None:
        query = query.where(Product.status == status)
    if category_id is not None:
        query = query.where(Product.category_id.in_(await category_scope(ctx, category_id)))
    if keyword and keyword.strip():
        query = query.where(title_matches(ctx, keyword.strip()))
    paged = keyset_paged(query, NEWEST, limit, cursor, "m")
    rows = (await ctx.session.scalars(paged)).all()
    ids = [row.id for row in rows[:limit]]
    totals = await ctx.session.execute(
        select(Sku.product_id, func.count(), func.coalesce(func.sum(Sku.stock), 0))
        .where(Sku.product_id.in_(ids), Sku.active.is_(True))
        .group_by(Sku.product_id)
    )
    stats = {pid: (count, stock) for pid, count, stock in totals}

    def summary(row: Product) -> s.ProductSummary:
        count, stock = stats.get(row.id, (0, 0))
        return s.ProductSummary(
            id=row.id,
            title=row.title,
            image=row.images[0] if row.images else "",
            category_id=row.category_id,
            status=row.status,
            sort=row.sort,
            min_price=row.min_price,
            sales=row.sales,
            sku_count=count,
            stock=int(stock),
            updated_at=row.updated_at,
        )

    return keyset_page_of(rows, limit, summary, lambda row: [row.id], "m")
