"""Catalog helpers shared by the merchant modules and the storefront (roles, constraint
errors, title search, the deleted marker), and the category tree.

Products and SKUs are in ``core.catalog.products``, storefront reads in
``core.catalog.storefront``. Every function takes a ``TenantContext``; no HTTP here.
"""

from __future__ import annotations

from collections.abc import Mapping

from msgspec import UNSET
from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError

from core.auth import require_staff
from core.catalog import schemas as s
from core.catalog.models import Category, Product
from core.context import TenantContext
from core.errors import Conflict, FieldError, Invalid, NotFound

# Category lists are returned whole (a tree does not page), so their size is bounded here.
MAX_CATEGORIES = 500


def actor(ctx: TenantContext) -> str:
    """Who made a change, for a ledger row's ``ref``: ``staff:<id>`` or ``api_key:<id>``."""
    principal = ctx.principal
    return f"{principal.kind}:{principal.id}" if principal is not None else "system"


async def flush(ctx: TenantContext, errors: Mapping[str, Invalid | Conflict]) -> None:
    """Flush, turning a constraint violation into the client error it means. The database
    constraints are the truth (a concurrent request may pass every check we made first);
    ``errors`` maps a word of the violation message to the error to raise."""
    try:
        await ctx.session.flush()
    except IntegrityError as exc:
        message = str(exc.orig).lower()
        for word, error in errors.items():
            if word in message:
                raise error from None
        raise


# ---- products: shared by the merchant side and the storefront ---------------------------

# A deleted product keeps its rows (order lines and the stock ledger point at its SKUs) but
# leaves every list, the storefront and the merchant API; its barcodes are freed for reuse.
DELETED = "deleted"


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def title_matches(ctx: TenantContext, keyword: str) -> ColumnElement[bool]:
    """Substring search on the title; the user's ``%`` and ``_`` are literal. PostgreSQL uses
    ILIKE, which the trigram GIN index ``ix_products_title_trgm`` serves (it works for
    Chinese, which full-text parsers do not segment); SQLite's LIKE ignores ASCII case."""
    pattern = f"%{escape_like(keyword)}%"
    if ctx.session.get_bind().dialect.name == "postgresql":
        return Product.title.ilike(pattern, escape="\\")
    return Product.title.like(pattern, escape="\\")


def product_missing(product_id: str) -> NotFound:
    return NotFound(f"no product {product_id}", code="catalog.product_not_found")


# ---- the category tree -------------------------------------------------------------------


def category_out(row: Category) -> s.CategoryOut:
    return s.CategoryOut(
        id=row.id, name=row.name, parent_id=row.parent_id, sort=row.sort, created_at=row.created_at
    )


def category_missing(category_id: str) -> NotFound:
    return NotFound(f"no category {category_id}", code="catalog.category_not_found")


def unknown_category(field: str, category_id: str) -> Invalid:
    return Invalid(
        f"no category {category_id}",
        code="catalog.unknown_category",
        errors=[FieldError(field=field, message="no such category")],
    )


async def parent_map(ctx: TenantContext, *, lock: bool = False) -> dict[str, str | None]:
    """Every category of the tenant as ``id -> parent_id``. ``lock`` takes the rows FOR
    UPDATE, so two concurrent moves cannot each pass the cycle check and make a loop."""
    query = select(Category.id, Category.parent_id)
    if lock:
        query = query.with_for_update()
    return {cid: parent for cid, parent in await ctx.session.execute(query)}


def descendants(parents: Mapping[str, str | None], root: str) -> set[str]:
    """``root`` and every category below it."""
    children: dict[str, list[str]] = {}
    for cid, parent in parents.items():
        if parent is not None:
            children.setdefault(parent, []).append(cid)
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


async def category_scope(ctx: TenantContext, category_id: str) -> set[str]:
    """A list filter on a category covers its subcategories too."""
    parents = await parent_map(ctx)
    if category_id not in parents:
        raise category_missing(category_id)
    return descendants(parents, category_id)


async def _category(ctx: TenantContext, category_id: str, *, lock: bool = False) -> Category:
    query = select(Category).where(Category.id == category_id)
    if lock:
        query = query.with_for_update()
    row = await ctx.session.scalar(query)
    if row is None:
        raise category_missing(category_id)
    return row


async def list_categories(ctx: TenantContext) -> list[s.CategoryOut]:
    require_staff(ctx, "clerk")
    rows = await ctx.session.scalars(select(Category).order_by(Category.sort, Category.id))
    return [category_out(row) for row in rows]


async def get_category(ctx: TenantContext, category_id: str) -> s.CategoryOut:
    require_staff(ctx, "clerk")
    return category_out(await _category(ctx, category_id))


async def category_tree(ctx: TenantContext) -> list[s.CategoryNode]:
    """The whole tree, nested, each level by ``sort`` then creation."""
    rows = (await ctx.session.scalars(select(Category).order_by(Category.sort, Category.id))).all()
    nodes = {row.id: s.CategoryNode(id=row.id, name=row.name, sort=row.sort) for row in rows}
    roots: list[s.CategoryNode] = []
    for row in rows:  # already sorted, so every children list comes out sorted
        parent = nodes.get(row.parent_id) if row.parent_id is not None else None
        (parent.children if parent is not None else roots).append(nodes[row.id])
    return roots


def _unknown_parent(parent_id: str) -> Invalid:
    return Invalid(
        f"no category {parent_id} to be the parent",
        code="catalog.unknown_parent",
        errors=[FieldError(field="parent_id", message="no such category")],
    )


async def create_category(ctx: TenantContext, data: s.CategoryIn) -> s.CategoryOut:
    require_staff(ctx, "manager")
    parents = await parent_map(ctx)
    if len(parents) >= MAX_CATEGORIES:
        raise Conflict(
            f"a store has at most {MAX_CATEGORIES} categories", code="catalog.too_many_categories"
        )
    if data.parent_id is not None and data.parent_id not in parents:
        raise _unknown_parent(data.parent_id)
    row = Category(name=data.name.strip(), parent_id=data.parent_id, sort=data.sort)
    ctx.session.add(row)
    # The parent may have been deleted since we looked; the foreign key says so.
    await flush(ctx, {"foreign key": _unknown_parent(data.parent_id or "")})
    return category_out(row)


async def update_category(
    ctx: TenantContext, category_id: str, data: s.CategoryPatch
) -> s.CategoryOut:
    require_staff(ctx, "manager")
    row = await _category(ctx, category_id, lock=True)
    if data.parent_id is not UNSET and data.parent_id != row.parent_id:
        new_parent = data.parent_id
        if new_parent is not None:
            parents = await parent_map(ctx, lock=True)
            if new_parent not in parents:
                raise _unknown_parent(new_parent)
            if new_parent in descendants(parents, row.id):
                raise Invalid(
                    "a category cannot move under itself or its own subcategory",
                    code="catalog.category_cycle",
                    errors=[FieldError(field="parent_id", message="would make a cycle")],
                )
        row.parent_id = new_parent
    if data.name is not UNSET:
        row.name = data.name.strip()
    if data.sort is not UNSET:
        row.sort = data.sort
    await flush(ctx, {"foreign key": _unknown_parent(row.parent_id or "")})
    return category_out(row)


async def delete_category(ctx: TenantContext, category_id: str) -> None:
    require_staff(ctx, "manager")
    row = await _category(ctx, category_id, lock=True)
    not_empty = Conflict(
        "move or delete its subcategories and products first", code="catalog.category_not_empty"
    )
    child = await ctx.session.scalar(
        select(Category.id).where(Category.parent_id == category_id).limit(1)
    )
    product = await ctx.session.scalar(
        select(Product.id).where(Product.category_id == category_id).limit(1)
    )
    if child is not None or product is not None:
        raise not_empty
    await ctx.session.delete(row)
    # A product or subcategory added concurrently still holds the foreign key.
    await flush(ctx, {"foreign key": not_empty})
