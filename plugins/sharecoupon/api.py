"""HTTP routes of the share coupon plugin (mounted under the tenant prefixes; the core adds
the ``plugin.disabled`` guard).

Storefront: the public share page reads a snapshot (``read_context``); the member's routes
(my packs, sharing, claiming, "share to win") run in the request's transaction. Merchant:
clerks read, managers and owners write.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from core.api import AnyRequest, Ctx, CurrentMember, Cursor, Limit, Tenant, runtime_of
from core.auth import require_staff
from core.catalog.storefront import read_context
from core.context import TenantContext
from core.paging import DEFAULT_LIMIT, Page
from plugins.sharecoupon import claiming, packs, service, storefront
from plugins.sharecoupon import schemas as s

MEMBER = {"member": True}
CampaignId = FromPath[str]
PackId = FromPath[str]
OrderId = FromPath[str]
ShareToken = FromPath[str]


def _member_id(ctx: TenantContext) -> str:
    assert ctx.principal is not None  # the member guard let the request in
    return ctx.principal.id


class StoreShareCouponController(Controller):
    """Buyers: my packs, the pack of an order, sharing, the share page, claiming, and the
    "share to win" campaigns."""

    path = "/sharecoupon"
    tags = ["store", "sharecoupon"]

    @get("/campaigns")
    async def list_campaigns(self, request: AnyRequest, tenant: Tenant) -> list[s.StoreCampaign]:
        async with read_context(runtime_of(request), tenant) as ctx:
            return await storefront.manual_campaigns(ctx)

    @post("/campaigns/{campaign_id:str}/packs", opt=MEMBER)
    async def open_pack(self, ctx: Ctx, campaign_id: CampaignId) -> s.PackOut:
        pack = await packs.open_manual(ctx, _member_id(ctx), campaign_id)
        return await storefront.pack_out(ctx, pack)

    @get("/packs", opt=MEMBER)
    async def my_packs(
        self, ctx: Ctx, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[s.PackOut]:
        return await storefront.my_packs(ctx, _member_id(ctx), limit, cursor)

    @get("/packs/{pack_id:str}", opt=MEMBER)
    async def my_pack(self, ctx: Ctx, pack_id: PackId) -> s.PackOut:
        return await storefront.my_pack(ctx, _member_id(ctx), pack_id)

    @get("/orders/{order_id:str}/pack", opt=MEMBER)
    async def pack_of_order(self, ctx: Ctx, order_id: OrderId) -> s.PackOut:
        return await storefront.pack_of_order(ctx, _member_id(ctx), order_id)

    @post("/packs/{pack_id:str}/share", opt=MEMBER, status_code=200)
    async def share(self, request: AnyRequest, ctx: Ctx, pack_id: PackId) -> s.ShareOut:
        secret = runtime_of(request).settings.secret_key
        return await packs.share(ctx, secret, _member_id(ctx), pack_id)

    @get("/shares/{share_token:str}")
    async def share_page(
        self, request: AnyRequest, tenant: Tenant, share_token: ShareToken
    ) -> s.SharePage:
        async with read_context(runtime_of(request), tenant) as ctx:
            return await claiming.share_page(ctx, share_token)

    # ``member``, not ``ctx``: a claim reads a snapshot first, then writes in its own
    # transaction behind the campaign's admission gate.
    @post("/shares/{share_token:str}/claim", opt=MEMBER)
    async def claim(
        self, request: AnyRequest, tenant: Tenant, member: CurrentMember, share_token: ShareToken
    ) -> s.ClaimOut:
        return await claiming.claim_as(runtime_of(request), tenant, member, share_token)


class MerchantShareCouponController(Controller):
    """Merchants: campaigns, their packs and their figures."""

    path = "/sharecoupon"
    tags = ["merchant", "sharecoupon"]

    @post("/campaigns")
    async def create_campaign(self, ctx: Ctx, data: JSONBody[s.CampaignIn]) -> s.CampaignOut:
        require_staff(ctx, "manager")
        return await service.create(ctx, data)

    @get("/campaigns")
    async def list_campaigns(
        self,
        ctx: Ctx,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: FromQuery[s.CampaignStatus | None] = None,
    ) -> Page[s.CampaignOut]:
        require_staff(ctx, "clerk")
        return await service.list_campaigns(ctx, limit, cursor, status)

    @get("/campaigns/{campaign_id:str}")
    async def get_campaign(self, ctx: Ctx, campaign_id: CampaignId) -> s.CampaignOut:
        require_staff(ctx, "clerk")
        return await service.detail(ctx, campaign_id)

    @put("/campaigns/{campaign_id:str}")
    async def replace_campaign(
        self, ctx: Ctx, campaign_id: CampaignId, data: JSONBody[s.CampaignIn]
    ) -> s.CampaignOut:
        require_staff(ctx, "manager")
        return await service.replace(ctx, campaign_id, data)

    @post("/campaigns/{campaign_id:str}/stop", status_code=200)
    async def stop_campaign(self, ctx: Ctx, campaign_id: CampaignId) -> s.CampaignOut:
        require_staff(ctx, "manager")
        return await service.stop(ctx, campaign_id)

    @get("/campaigns/{campaign_id:str}/packs")
    async def list_packs(
        self, ctx: Ctx, campaign_id: CampaignId, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[s.PackAdminOut]:
        require_staff(ctx, "clerk")
        return await service.list_packs(ctx, campaign_id, limit, cursor)

    @get("/campaigns/{campaign_id:str}/stats")
    async def campaign_stats(self, ctx: Ctx, campaign_id: CampaignId) -> s.StatsOut:
        require_staff(ctx, "clerk")
        return await service.stats(ctx, campaign_id)


STORE_ROUTES: list[Any] = [StoreShareCouponController]
MERCHANT_ROUTES: list[Any] = [MerchantShareCouponController]
