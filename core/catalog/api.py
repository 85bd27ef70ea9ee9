"""HTTP routes of the catalog: merchant CRUD under ``/merchant/{tenant}/v1`` and the public
storefront under ``/store/{tenant}/v1``. Thin: parse, call the service, return a Struct."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, get, patch, post
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from core.analytics.api import count_list_view, count_product_view
from core.api import AnyRequest, Ctx, Cursor, Limit, Tenant, runtime_of
from core.catalog import products, service, storefront
from core.catalog import schemas as s
from core.catalog.schemas import BARCODE, ID_LIKE, ONE_LINE
from core.paging import DEFAULT_LIMIT, Page

# Ids in paths and filters: anything that cannot be an id is a 400 before any query.
CategoryId = Annotated[str, PathParameter(pattern=ID_LIKE)]
ProductId = Annotated[str, PathParameter(pattern=ID_LIKE)]
BarcodePath = Annotated[str, PathParameter(max_length=64, pattern=BARCODE)]
Keyword = Annotated[str | None, QueryParameter(max_length=50, pattern=ONE_LINE)]
CategoryFilter = Annotated[str | None, QueryParameter(pattern=ID_LIKE)]


# ---- merchant ------------------------------------------------------------------------------


class CategoriesController(Controller):
    path = "/categories"
    tags = ["catalog"]

    @get("/")
    async def list_categories(self, ctx: Ctx) -> list[s.CategoryOut]:
        return await service.list_categories(ctx)

    @post("/")
    async def create_category(self, ctx: Ctx, data: JSONBody[s.CategoryIn]) -> s.CategoryOut:
        return await service.create_category(ctx, data)

    @get("/{category_id:str}")
    async def get_category(self, ctx: Ctx, category_id: CategoryId) -> s.CategoryOut:
        return await service.get_category(ctx, category_id)

    @patch("/{category_id:str}")
    async def update_category(
        self, ctx: Ctx, category_id: CategoryId, data: JSONBody[s.CategoryPatch]
    ) -> s.CategoryOut:
        return await service.update_category(ctx, category_id, data)

    @delete("/{category_id:str}")
    async def delete_category(self, ctx: Ctx, category_id: CategoryId) -> None:
        await service.delete_category(ctx, category_id)


class ProductsController(Controller):
    path = "/products"
    tags = ["catalog"]

    @get("/")
    async def list_products(
        self,
        ctx: Ctx,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: FromQuery[s.ShelfStatus | None] = None,
        category_id: CategoryFilter = None,
        keyword: Keyword = None,
    ) -> Page[s.ProductSummary]:
        return await products.list_products(
            ctx,
            limit=limit,
            cursor=cursor,
            status=status,
            category_id=category_id,
            keyword=keyword,
        )

    @post("/")
    async def create_product(self, ctx: Ctx, data: JSONBody[s.ProductIn]) -> s.ProductOut:
        return await products.create_product(ctx, data)

    @post("/shelf", status_code=200)
    async def shelf(self, ctx: Ctx, data: JSONBody[s.ShelfIn]) -> s.ShelfOut:
        return await products.set_shelf(ctx, data)

    @get("/{product_id:str}")
    async def get_product(self, ctx: Ctx, product_id: ProductId) -> s.ProductOut:
        return await products.get_product(ctx, product_id)

    @patch("/{product_id:str}")
    async def update_product(
        self, ctx: Ctx, product_id: ProductId, data: JSONBody[s.ProductPatch]
    ) -> s.ProductOut:
        return await products.update_product(ctx, product_id, data)

    @delete("/{product_id:str}")
    async def delete_product(self, ctx: Ctx, product_id: ProductId) -> None:
        await products.delete_product(ctx, product_id)


# ---- storefront ----------------------------------------------------------------------------
# Public and read-only: each handler opens a read context instead of taking ``ctx``, so on
# SQLite browsing does not hold the write lock (see storefront.read_context).


class StoreCatalogController(Controller):
    path = "/"
    tags = ["store"]

    @get("/categories")
    async def categories(self, request: AnyRequest, tenant: Tenant) -> list[s.CategoryNode]:
        async with storefront.read_context(runtime_of(request), tenant) as ctx:
            return await service.category_tree(ctx)

    @get("/products")
    async def list_products(
        self,
        request: AnyRequest,
        tenant: Tenant,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        sort: FromQuery[s.StoreSort] = "default",
        category_id: CategoryFilter = None,
        keyword: Keyword = None,
    ) -> Page[s.StoreProductCard]:
        async with storefront.read_context(runtime_of(request), tenant) as ctx:
            page = await storefront.list_products(
                ctx,
                limit=limit,
                cursor=cursor,
                sort=sort,
                category_id=category_id,
                keyword=keyword,
            )
        count_list_view(request, tenant)
        return page

    @get("/products/{product_id:str}")
    async def get_product(
        self, request: AnyRequest, tenant: Tenant, product_id: ProductId
    ) -> s.StoreProduct:
        async with storefront.read_context(runtime_of(request), tenant) as ctx:
            product = await storefront.get_product(ctx, product_id)
        count_product_view(request, tenant, product.id)
        return product

    @get("/products/by-barcode/{code:str}")
    async def by_barcode(
        self,
        request: AnyRequest,
        tenant: Tenant,
        code: BarcodePath,
    ) -> s.BarcodeHit:
        async with storefront.read_context(runtime_of(request), tenant) as ctx:
            return await storefront.by_barcode(ctx, code)


STORE_ROUTES: list[Any] = [StoreCatalogController]
MERCHANT_ROUTES: list[Any] = [CategoriesController, ProductsController]
