"""The stock pages of the merchant console: the low-stock list, and one SKU's stock with its
ledger and a manual adjustment with a reason.

Thin controllers over ``core.inventory.merchant``, the functions the JSON API calls: who may
adjust, and that stock never goes below zero, are its rules."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Response, get, post
from litestar.params import FromPath, FromQuery

from core.api import AnyRequest, Ctx, Cursor, Limit
from core.catalog.products import get_product
from core.catalog.schemas import ONE_LINE
from core.console.forms import Form, read_form, read_query
from core.console.i18n import N_
from core.console.lists import paging
from core.console.web import page, redirect
from core.context import TenantContext
from core.errors import AppError
from core.inventory import merchant
from core.inventory import schemas as s
from core.paging import DEFAULT_LIMIT

SkuId = FromPath[str]
REASON_LABELS = {
    "manual": N_("Adjusted by hand"),
    "initial": N_("Opening stock"),
    "order_reserve": N_("Ordered"),
    "order_release": N_("Given back by an order"),
    "erp_set": N_("ERP/POS count"),
    "erp_delta": N_("ERP/POS change"),
}
ERROR_TEXTS = {
    "inventory.insufficient_stock": N_("The stock cannot go below zero."),
    "inventory.invalid_quantity": N_("Enter a change other than zero."),
}


class LowStockFilter(msgspec.Struct, kw_only=True):
    """How close to the safety stock a SKU must be to be listed."""

    threshold: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0


class AdjustForm(msgspec.Struct, kw_only=True):
    """A manual change: the reason is required here, so every hand-made row says why."""

    delta: s.Delta
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=ONE_LINE)]


@get("/stock", include_in_schema=False)
async def low_stock_list(
    request: AnyRequest, ctx: Ctx, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Response[str]:
    filters = read_query(request, LowStockFilter)
    rows: list[s.LowStockOut] = []
    next_cursor = None
    if filters.ok and filters.data is not None:
        found = await merchant.low_stock(
            ctx, threshold=filters.data.threshold, limit=limit, cursor=cursor
        )
        rows, next_cursor = found.items, found.next_cursor
    return page(
        request,
        "inventory/low_stock.html",
        status=200 if filters.ok else 422,
        filters=filters,
        rows=rows,
        paging=paging(request, next_cursor),
    )


async def sku_page(
    request: AnyRequest,
    ctx: TenantContext,
    sku_id: str,
    *,
    cursor: str | None = None,
    status: int = 200,
    notice: bool = False,
    adjust_form: Form[Any] | None = None,
) -> Response[str]:
    stock = await merchant.get_stock(ctx, sku_id)  # another store's SKU: 404
    product = await get_product(ctx, stock.product_id)
    sku = next(item for item in product.skus if item.id == sku_id)
    ledger = await merchant.movements(ctx, sku_id, limit=DEFAULT_LIMIT, cursor=cursor)
    return page(
        request,
        "inventory/sku.html",
        status=status,
        stock=stock,
        product=product,
        sku=sku,
        ledger=ledger.items,
        paging=paging(request, ledger.next_cursor),
        reasons=REASON_LABELS,
        notice=notice,
        adjust_form=adjust_form or Form(values={}),
    )


@get("/stock/{sku_id:str}", include_in_schema=False)
async def sku_stock(
    request: AnyRequest, ctx: Ctx, sku_id: SkuId, cursor: Cursor = None, done: FromQuery[str] = ""
) -> Response[str]:
    return await sku_page(request, ctx, sku_id, cursor=cursor, notice=done == "adjusted")


@post("/stock/{sku_id:str}/adjust", include_in_schema=False)
async def adjust(request: AnyRequest, ctx: Ctx, sku_id: SkuId) -> Any:
    form = await read_form(request, AdjustForm)
    status = 422
    if form.ok and form.data is not None:
        change = s.StockAdjust(delta=form.data.delta, note=form.data.note.strip())
        try:
            async with ctx.savepoint():
                await merchant.adjust_sku_stock(ctx, sku_id, change)
        except AppError as exc:
            status = form.refuse(exc, texts=ERROR_TEXTS)
        else:
            return redirect(request, f"stock/{sku_id}?done=adjusted")
    return await sku_page(request, ctx, sku_id, status=status, adjust_form=form)


CONSOLE_ROUTES = [low_stock_list, sku_stock, adjust]
