"""HTTP routes of the leaders plugin (mounted under the tenant prefixes; the core adds the
``plugin.disabled`` guard)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from core.api import AnyRequest, Ctx, CurrentMember, Cursor, Limit, Tenant, runtime_of
from core.auth import require_staff
from core.catalog.storefront import read_context
from core.paging import DEFAULT_LIMIT, Page
from plugins.leaders import schemas as s
from plugins.leaders import service, storefront
from plugins.leaders.rules import APPROVED, leader_area

MEMBER = {"member": True}
LeaderId = FromPath[str]


class StoreLeadersController(Controller):
    """Buyers and leaders: applying, the leader's own area, share pages and binding."""

    path = "/leaders"
    tags = ["store", "leaders"]

    @post("/apply", status_code=200, opt=MEMBER)
    async def apply(
        self, ctx: Ctx, member: CurrentMember, data: JSONBody[s.ApplyIn]
    ) -> s.MyLeaderOut:
        return await storefront.apply(ctx, member.id, data)

    @get("/me", opt=MEMBER)
    async def me(self, ctx: Ctx, member: CurrentMember) -> s.MyLeaderOut:
        return await storefront.me(ctx, member.id)

    @get("/me/buyers", opt=MEMBER)
    async def my_buyers(
        self, ctx: Ctx, member: CurrentMember, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[s.BuyerOut]:
        leader = await leader_area(ctx, member.id, APPROVED)
        return await storefront.my_buyers(ctx, leader, limit, cursor)

    @get("/binding", opt=MEMBER)
    async def my_binding(self, ctx: Ctx, member: CurrentMember) -> s.MyBinding:
        return await storefront.my_binding(ctx, member.id)

    @get("/{leader_id:str}")
    async def card(self, request: AnyRequest, tenant: Tenant, leader_id: LeaderId) -> s.LeaderCard:
        async with read_context(runtime_of(request), tenant) as ctx:
            return await storefront.card(ctx, leader_id)

    @post("/{leader_id:str}/bind", status_code=200, opt=MEMBER)
    async def bind(self, ctx: Ctx, member: CurrentMember, leader_id: LeaderId) -> s.BindOut:
        return await storefront.bind(ctx, member.id, leader_id)


class MerchantLeadersController(Controller):
    """Merchants: applications to review, leaders with their figures, and their lifecycle."""

    path = "/leaders"
    tags = ["merchant", "leaders"]

    @get("/")
    async def list_leaders(
        self,
        ctx: Ctx,
        status: FromQuery[s.LeaderStatus | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[s.LeaderOut]:
        require_staff(ctx, "clerk")
        return await service.list_leaders(ctx, status, limit, cursor)

    @get("/{leader_id:str}")
    async def get_leader(self, ctx: Ctx, leader_id: LeaderId) -> s.LeaderOut:
        require_staff(ctx, "clerk")
        return await service.get(ctx, leader_id)

    @post("/{leader_id:str}/approve", status_code=200)
    async def approve(
        self, ctx: Ctx, leader_id: LeaderId, data: JSONBody[s.ApproveIn | None] = None
    ) -> s.LeaderOut:
        require_staff(ctx, "manager")
        return await service.approve(ctx, leader_id, data or s.ApproveIn())

    @post("/{leader_id:str}/reject", status_code=200)
    async def reject(
        self, ctx: Ctx, leader_id: LeaderId, data: JSONBody[s.ReasonIn]
    ) -> s.LeaderOut:
        require_staff(ctx, "manager")
        return await service.reject(ctx, leader_id, data.reason)

    @post("/{leader_id:str}/suspend", status_code=200)
    async def suspend(
        self, ctx: Ctx, leader_id: LeaderId, data: JSONBody[s.ReasonIn]
    ) -> s.LeaderOut:
        require_staff(ctx, "manager")
        return await service.suspend(ctx, leader_id, data.reason)

    @post("/{leader_id:str}/reinstate", status_code=200)
    async def reinstate(self, ctx: Ctx, leader_id: LeaderId) -> s.LeaderOut:
        require_staff(ctx, "manager")
        return await service.reinstate(ctx, leader_id)

    @post("/{leader_id:str}/end", status_code=200)
    async def end(self, ctx: Ctx, leader_id: LeaderId, data: JSONBody[s.ReasonIn]) -> s.LeaderOut:
        require_staff(ctx, "manager")
        return await service.end(ctx, leader_id, data.reason)

    @put("/{leader_id:str}/level")
    async def set_level(
        self, ctx: Ctx, leader_id: LeaderId, data: JSONBody[s.LevelIn]
    ) -> s.LeaderOut:
        require_staff(ctx, "manager")
        return await service.set_level(ctx, leader_id, data.level)


STORE_ROUTES: list[Any] = [StoreLeadersController]
MERCHANT_ROUTES: list[Any] = [MerchantLeadersController]
