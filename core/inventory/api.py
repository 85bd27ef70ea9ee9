"""HTTP routes of inventory (merchant): one SKU's stock, manual changes, safety stock, the
ledger, low stock, and the ERP/POS sync."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get, post, put
from litestar.params import JSONBody, PathParameter, QueryParameter

from core.api import AnyRequest, Caller, Ctx, Cursor, Limit, Tenant, runtime_of
from core.auth import require_role
from core.catalog.schemas import ID_LIKE
from core.context import TenantContext
from core.idempotency import HEADER, answers, run_idempotent
from core.inventory import merchant
from core.inventory import schemas as s
from core.inventory import sync as erp
from core.paging import DEFAULT_LIMIT, Page

SkuId = Annotated[str, PathParameter(pattern=ID_LIKE)]
Threshold = Annotated[int, QueryParameter(ge=0, le=1_000_000)]
SYNC_ROUTE = "POST /inventory/sync"


class InventoryController(Controller):
    path = "/inventory"
    tags = ["inventory"]

    @get("/skus/{sku_id:str}")
    async def get_stock(self, ctx: Ctx, sku_id: SkuId) -> s.StockOut:
        return await merchant.get_stock(ctx, sku_id)

    @put("/skus/{sku_id:str}/stock")
    async def set_stock(self, ctx: Ctx, sku_id: SkuId, data: JSONBody[s.StockSet]) -> s.StockOut:
        return await merchant.set_sku_stock(ctx, sku_id, data)

    @post("/skus/{sku_id:str}/adjust", status_code=200)
    async def adjust_stock(
        self, ctx: Ctx, sku_id: SkuId, data: JSONBody[s.StockAdjust]
    ) -> s.StockOut:
        return await merchant.adjust_sku_stock(ctx, sku_id, data)

    @put("/skus/{sku_id:str}/safety-stock")
    async def set_safety_stock(
        self, ctx: Ctx, sku_id: SkuId, data: JSONBody[s.SafetyStockIn]
    ) -> s.StockOut:
        return await merchant.set_safety_stock(ctx, sku_id, data)

    @get("/skus/{sku_id:str}/movements")
    async def movements(
        self, ctx: Ctx, sku_id: SkuId, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[s.MovementOut]:
        return await merchant.movements(ctx, sku_id, limit=limit, cursor=cursor)

    @get("/low-stock")
    async def low_stock(
        self,
        ctx: Ctx,
        threshold: Threshold = 0,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[s.LowStockOut]:
        return await merchant.low_stock(ctx, threshold=threshold, limit=limit, cursor=cursor)

    @post("/sync", status_code=200, responses=answers(s.SyncOut, "What changed", 200))
    async def sync(
        self, request: AnyRequest, tenant: Tenant, principal: Caller, data: JSONBody[s.SyncIn]
    ) -> Any:
        # ``principal``, not ``ctx``: run_idempotent runs its own transactions.
        require_role(principal.role, "manager")  # before a key is claimed
        key = request.headers.get(HEADER)

        async def work(tx: TenantContext) -> s.SyncOut:
            return await erp.sync(tx, data, ref=key or "")

        return await run_idempotent(
            runtime_of(request), tenant, principal, SYNC_ROUTE, key, data, work, status_code=200
        )


STORE_ROUTES: list[Any] = []
MERCHANT_ROUTES: list[Any] = [InventoryController]
