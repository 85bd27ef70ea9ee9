"""HTTP routes of the flash sale plugin (mounted under the tenant prefixes; the core adds the
``plugin.disabled`` guard)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from core.api import AnyRequest, Ctx, CurrentMember, Cursor, Limit, Tenant, runtime_of
from core.auth import require_staff
from core.catalog.storefront import read_context
from core.context import TenantContext
from core.idempotency import HEADER, answers
from core.paging import DEFAULT_LIMIT, Page
from core.runtime import Runtime
from plugins.flashsale import buying, preheat, service, storefront
from plugins.flashsale import schemas as s
from plugins.flashsale.models import FlashActivity
from plugins.flashsale.redis_stock import keys_for

MEMBER = {"member": True}
ActivityId = FromPath[str]


async def _redis_left(rt: Runtime, ctx: TenantContext, activity_id: str) -> dict[str, int] | None:
    """Units left per SKU as Redis has them (None: the database-only mode, or no keys)."""
    stock = preheat.redis_stock(rt, ctx.tenant)
    if stock is None:
        return None
    snapshot = await stock.snapshot(keys_for(ctx.tenant_id, activity_id))
    return snapshot[0] if snapshot is not None else None


def _reload_after_commit(rt: Runtime, ctx: TenantContext, activity_id: str) -> None:
    """Tell Redis the new state as soon as it is committed (the queued preheat job is the
    fallback if this fails)."""

    async def reload() -> None:
        try:
            await preheat.load(rt, ctx.tenant, activity_id, force=True)
        except Exception:  # the job will do it; the merchant's change is committed
            preheat.log.exception("flashsale: reloading %s into Redis failed", activity_id)

    ctx.after_commit(reload)


class StoreFlashSaleController(Controller):
    """Buyers: the sales on now and soon, one sale's prices and stock, and the buy button."""

    path = "/flashsale"
    tags = ["store", "flashsale"]

    # Browsing reads a snapshot (``read_context``): it never queues behind the buys.
    @get("/")
    async def list_sales(
        self,
        request: AnyRequest,
        tenant: Tenant,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> s.StoreActivityList:
        async with read_context(runtime_of(request), tenant) as ctx:
            return await storefront.list_live(ctx, limit, cursor)

    @get("/{activity_id:str}")
    async def get_sale(
        self, request: AnyRequest, tenant: Tenant, activity_id: ActivityId
    ) -> s.StoreActivity:
        rt = runtime_of(request)
        async with read_context(rt, tenant) as ctx:
            activity: FlashActivity = await storefront.live_activity(ctx, activity_id)
            show = preheat.settings_of(tenant).show_remaining_stock
            left = await _redis_left(rt, ctx, activity.id) if show else None
            return await storefront.detail(ctx, activity, show, left)

    @post("/{activity_id:str}/buy", opt=MEMBER, responses=answers(s.BuyOut, "The order"))
    async def buy(
        self,
        request: AnyRequest,
        tenant: Tenant,
        member: CurrentMember,
        activity_id: ActivityId,
        data: JSONBody[s.BuyIn],
    ) -> Any:
        # ``member``, not ``ctx``: the buy runs its own short transactions.
        client_ip = request.client.host if request.client else "unknown"
        return await buying.buy(
            runtime_of(request),
            tenant,
            member,
            activity_id,
            data,
            request.headers.get(HEADER),
            client_ip,
        )


class MerchantFlashSaleController(Controller):
    """Merchants: flash sales from draft to publish or cancel, and their live stats."""

    path = "/flashsale/activities"
    tags = ["merchant", "flashsale"]

    @post("/")
    async def create_activity(self, ctx: Ctx, data: JSONBody[s.ActivityIn]) -> s.ActivityOut:
        require_staff(ctx, "manager")
        return await service.create(ctx, data)

    @get("/")
    async def list_activities(
        self,
        ctx: Ctx,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: FromQuery[s.Status | None] = None,
    ) -> Page[s.ActivityOut]:
        require_staff(ctx, "clerk")
        return await service.list_activities(ctx, limit, cursor, status)

    @get("/{activity_id:str}")
    async def get_activity(self, ctx: Ctx, activity_id: ActivityId) -> s.ActivityOut:
        require_staff(ctx, "clerk")
        return await service.detail(ctx, activity_id)

    @put("/{activity_id:str}")
    async def replace_activity(
        self, ctx: Ctx, activity_id: ActivityId, data: JSONBody[s.ActivityIn]
    ) -> s.ActivityOut:
        require_staff(ctx, "manager")
        return await service.replace(ctx, activity_id, data)

    @delete("/{activity_id:str}")
    async def delete_activity(self, ctx: Ctx, activity_id: ActivityId) -> None:
        require_staff(ctx, "manager")
        await service.remove(ctx, activity_id)

    @post("/{activity_id:str}/publish", status_code=200)
    async def publish_activity(
        self, request: AnyRequest, ctx: Ctx, activity_id: ActivityId
    ) -> s.ActivityOut:
        require_staff(ctx, "manager")
        activity = await service.publish(ctx, activity_id)
        _reload_after_commit(runtime_of(request), ctx, activity.id)
        return activity

    @post("/{activity_id:str}/cancel", status_code=200)
    async def cancel_activity(
        self, request: AnyRequest, ctx: Ctx, activity_id: ActivityId
    ) -> s.ActivityOut:
        require_staff(ctx, "manager")
        activity = await service.cancel(ctx, activity_id)
        _reload_after_commit(runtime_of(request), ctx, activity.id)
        return activity

    @get("/{activity_id:str}/stats")
    async def activity_stats(
        self, request: AnyRequest, ctx: Ctx, activity_id: ActivityId
    ) -> s.StatsOut:
        require_staff(ctx, "clerk")
        activity = await service.get_activity(ctx, activity_id)
        left = await _redis_left(runtime_of(request), ctx, activity.id)
        return await service.stats(ctx, activity.id, left)


STORE_ROUTES: list[Any] = [StoreFlashSaleController]
MERCHANT_ROUTES: list[Any] = [MerchantFlashSaleController]
