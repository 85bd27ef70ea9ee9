"""HTTP routes of the leaders plugin (mounted under the tenant prefixes; the core adds the
``plugin.disabled`` guard)."""

from __future__ import annotations

import csv
import io
from typing import Any

from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from core.api import AnyRequest, Ctx, CurrentMember, Cursor, Limit, Tenant, runtime_of
from core.auth import require_staff
from core.catalog.storefront import read_context
from core.paging import DEFAULT_LIMIT, Page
from plugins.leaders import deliveries, rounds, service, storefront
from plugins.leaders import schemas as s
from plugins.leaders.rules import APPROVED, get_leader, leader_area

MEMBER = {"member": True}
LeaderId = FromPath[str]
RoundId = FromPath[str]


class StoreRoundsController(Controller):
    """Buyers: the group rounds open now or about to open, with their round prices."""

    path = "/leaders/rounds"
    tags = ["store", "leaders"]

    @get("/")
    async def list_rounds(self, request: AnyRequest, tenant: Tenant) -> s.RoundList:
        async with read_context(runtime_of(request), tenant) as ctx:
            return await rounds.current_rounds(ctx)

    @get("/{round_id:str}")
    async def get_round(self, request: AnyRequest, tenant: Tenant, round_id: RoundId) -> s.RoundOut:
        async with read_context(runtime_of(request), tenant) as ctx:
            return await rounds.store_round(ctx, round_id)


class LeaderAreaController(Controller):
    """The leader's own area: their buyers, their orders by round, pick lists and arrivals."""

    path = "/leaders/me"
    tags = ["store", "leaders"]

    @get("/buyers", opt=MEMBER)
    async def my_buyers(
        self, ctx: Ctx, member: CurrentMember, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[s.BuyerOut]:
        leader = await leader_area(ctx, member.id, APPROVED)
        return await storefront.my_buyers(ctx, leader, limit, cursor)

    @get("/orders", opt=MEMBER)
    async def my_orders(
        self,
        ctx: Ctx,
        member: CurrentMember,
        round_id: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[s.LeaderOrderOut]:
        leader = await leader_area(ctx, member.id, APPROVED)
        return await storefront.my_orders(ctx, leader, round_id, limit, cursor)

    @get("/rounds/{round_id:str}/pick-list", opt=MEMBER)
    async def my_pick_list(self, ctx: Ctx, member: CurrentMember, round_id: RoundId) -> s.PickList:
        round_ = await rounds.get_round(ctx, round_id)
        leader = await leader_area(ctx, member.id, APPROVED)
        return await deliveries.leader_pick_list(ctx, round_, leader)

    @post("/rounds/{round_id:str}/arrival", status_code=200, opt=MEMBER)
    async def confirm_arrival(
        self, ctx: Ctx, member: CurrentMember, round_id: RoundId
    ) -> s.PickList:
        """The round's goods reached the leader's point: the buyers get their codes."""
        round_ = await rounds.get_round(ctx, round_id)
        leader = await leader_area(ctx, member.id)
        return await deliveries.confirm_arrival(ctx, round_, leader, f"member:{member.id}")


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


class MerchantRoundsController(Controller):
    """Merchants: group rounds, the pick list per leader (JSON and CSV), arrivals."""

    path = "/leaders/rounds"
    tags = ["merchant", "leaders"]

    @post("/")
    async def create_round(self, ctx: Ctx, data: JSONBody[s.RoundIn]) -> s.RoundOut:
        require_staff(ctx, "manager")
        return await rounds.create_round(ctx, data)

    @get("/")
    async def list_rounds(
        self, ctx: Ctx, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[s.RoundOut]:
        require_staff(ctx, "clerk")
        return await rounds.list_rounds(ctx, limit, cursor)

    @get("/{round_id:str}")
    async def get_round(self, ctx: Ctx, round_id: RoundId) -> s.RoundOut:
        require_staff(ctx, "clerk")
        return await rounds.one(ctx, await rounds.get_round(ctx, round_id))

    @post("/{round_id:str}/close", status_code=200)
    async def close_round(self, ctx: Ctx, round_id: RoundId) -> s.RoundOut:
        require_staff(ctx, "manager")
        return await rounds.close_round(ctx, round_id)

    @get("/{round_id:str}/pick-lists")
    async def pick_lists(self, ctx: Ctx, round_id: RoundId) -> s.PickLists:
        require_staff(ctx, "clerk")
        return await deliveries.round_pick_lists(ctx, round_id)

    @get("/{round_id:str}/pick-lists.csv", media_type="text/csv")
    async def pick_lists_csv(self, ctx: Ctx, round_id: RoundId) -> Response[bytes]:
        require_staff(ctx, "clerk")
        lists = await deliveries.round_pick_lists(ctx, round_id)
        buffer = io.StringIO()
        csv.writer(buffer).writerows(deliveries.csv_rows(lists))
        # A BOM, so that spreadsheet programs read the Chinese text as UTF-8.
        return Response(
            ("\ufeff" + buffer.getvalue()).encode(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="pick-lists-{round_id}.csv"'},
        )

    @get("/{round_id:str}/pick-lists/{leader_id:str}")
    async def pick_list(self, ctx: Ctx, round_id: RoundId, leader_id: LeaderId) -> s.PickList:
        require_staff(ctx, "clerk")
        round_ = await rounds.get_round(ctx, round_id)
        leader = await get_leader(ctx, leader_id)
        return await deliveries.leader_pick_list(ctx, round_, leader)

    @post("/{round_id:str}/pick-lists/{leader_id:str}/arrival", status_code=200)
    async def confirm_arrival(self, ctx: Ctx, round_id: RoundId, leader_id: LeaderId) -> s.PickList:
        """The goods reached the leader's point (confirmed for the leader, e.g. by staff
        who delivered them)."""
        principal = require_staff(ctx, "manager")
        round_ = await rounds.get_round(ctx, round_id)
        leader = await get_leader(ctx, leader_id)
        actor = f"{principal.kind}:{principal.id}"
        return await deliveries.confirm_arrival(ctx, round_, leader, actor)


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


STORE_ROUTES: list[Any] = [StoreRoundsController, LeaderAreaController, StoreLeadersController]
MERCHANT_ROUTES: list[Any] = [MerchantRoundsController, MerchantLeadersController]
