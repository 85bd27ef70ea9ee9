"""HTTP routes of the points plugin (mounted under the tenant prefixes; the core adds the
``plugin.disabled`` guard)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody

from core.api import AnyRequest, Ctx, CurrentMember, Cursor, Limit, Tenant, runtime_of
from core.auth import require_staff
from core.context import TenantContext
from core.idempotency import HEADER, answers, run_idempotent
from core.paging import DEFAULT_LIMIT, Page
from plugins.points import schemas as s
from plugins.points import service

MEMBER = {"member": True}
MemberId = FromPath[str]
ItemId = FromPath[str]


def _member_id(ctx: TenantContext) -> str:
    assert ctx.principal is not None  # the member guard let the request in
    return ctx.principal.id


class StorePointsController(Controller):
    """Members: balance, history, expiring points, check-in and the exchange catalogue."""

    path = "/points"
    tags = ["store", "points"]

    @get("/", opt=MEMBER)
    async def balance(self, ctx: Ctx) -> s.BalanceOut:
        return await service.overview(ctx, _member_id(ctx))

    @get("/history", opt=MEMBER)
    async def history(
        self, ctx: Ctx, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[s.EntryOut]:
        return await service.history(ctx, _member_id(ctx), limit, cursor)

    @get("/expiring", opt=MEMBER)
    async def expiring(self, ctx: Ctx) -> list[s.LotOut]:
        return [service.lot_out(lot) for lot in await service.expiring_lots(ctx, _member_id(ctx))]

    @post("/checkin", opt=MEMBER, status_code=200)
    async def checkin(self, ctx: Ctx) -> s.CheckinOut:
        return await service.checkin(ctx, _member_id(ctx))

    @get("/catalog", opt=MEMBER)
    async def catalog(self, ctx: Ctx) -> list[s.CatalogItemOut]:
        return await service.catalog(ctx, only_active=True)

    @post("/exchange", opt=MEMBER, responses=answers(s.ExchangeOut, "The coupon bought"))
    async def exchange(
        self,
        request: AnyRequest,
        tenant: Tenant,
        member: CurrentMember,
        data: JSONBody[s.ExchangeIn],
    ) -> Any:
        # Idempotent: a retried exchange never pays twice.
        return await run_idempotent(
            runtime_of(request),
            tenant,
            member,
            "points.exchange",
            request.headers.get(HEADER),
            data,
            lambda ctx: service.exchange(ctx, member.id, data.item_id),
        )


class MerchantPointsController(Controller):
    """Merchants: a member's points, manual adjustments, the catalogue and the stats."""

    path = "/points"
    tags = ["merchant", "points"]

    @get("/members/{member_id:str}")
    async def member_points(self, ctx: Ctx, member_id: MemberId) -> s.MemberPointsOut:
        require_staff(ctx, "clerk")
        return await service.member_points(ctx, member_id)

    @get("/members/{member_id:str}/ledger")
    async def member_ledger(
        self, ctx: Ctx, member_id: MemberId, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[s.EntryOut]:
        require_staff(ctx, "clerk")
        await service.member_points(ctx, member_id)  # 404 for a member of another tenant
        return await service.history(ctx, member_id, limit, cursor)

    @post("/members/{member_id:str}/adjustments")
    async def adjust(self, ctx: Ctx, member_id: MemberId, data: JSONBody[s.AdjustIn]) -> s.EntryOut:
        require_staff(ctx, "manager")
        return await service.adjust(ctx, member_id, data)

    @get("/catalog")
    async def catalog(self, ctx: Ctx) -> list[s.CatalogItemOut]:
        require_staff(ctx, "clerk")
        return await service.catalog(ctx, only_active=False)

    @post("/catalog")
    async def add_item(self, ctx: Ctx, data: JSONBody[s.CatalogItemIn]) -> s.CatalogItemOut:
        require_staff(ctx, "manager")
        return await service.add_catalog_item(ctx, data)

    @delete("/catalog/{item_id:str}")
    async def retire_item(self, ctx: Ctx, item_id: ItemId) -> None:
        require_staff(ctx, "manager")
        await service.retire_catalog_item(ctx, item_id)

    @get("/stats")
    async def stats(self, ctx: Ctx) -> s.StatsOut:
        require_staff(ctx, "clerk")
        return await service.stats(ctx)


STORE_ROUTES: list[Any] = [StorePointsController]
MERCHANT_ROUTES: list[Any] = [MerchantPointsController]
