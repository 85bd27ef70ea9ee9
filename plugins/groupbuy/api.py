"""HTTP routes of the group-buy plugin (mounted under the tenant prefixes; the core adds the
``plugin.disabled`` guard).

Storefront browsing is anonymous and reads a snapshot (``read_context``), so it never queues
behind the buys; opening and joining a team run their own transactions (``buying``).
Merchant routes: clerks read, managers and owners write, as for the flash sale.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from core.api import AnyRequest, Ctx, CurrentMember, Cursor, Limit, Tenant, runtime_of
from core.auth import require_staff
from core.catalog.storefront import read_context
from core.db import ID_LENGTH
from core.idempotency import HEADER, answers
from core.orders.service import actor_of
from core.paging import DEFAULT_LIMIT, Page
from plugins.groupbuy import buying, errors, service, storefront, teams
from plugins.groupbuy import schemas as s

MEMBER = {"member": True}
ActivityId = FromPath[str]
TeamId = FromPath[str]
IdFilter = FromQuery[str | None]


def _id_or_none(value: str | None) -> str | None:
    # A filter longer than an id matches nothing: "-" is never an id, and never reaches a
    # column whose type is 26 characters with a longer value.
    return value if value is None or len(value) <= ID_LENGTH else "-"


class StoreGroupBuyController(Controller):
    """Buyers: the group-buys, teams to join, a team's share page, my teams, and the open
    and join buttons."""

    path = "/groupbuy"
    tags = ["store", "groupbuy"]

    @get("/activities")
    async def list_activities(
        self,
        request: AnyRequest,
        tenant: Tenant,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> s.StoreActivityList:
        async with read_context(runtime_of(request), tenant) as ctx:
            return await storefront.list_live(ctx, limit, cursor)

    @get("/activities/{activity_id:str}")
    async def get_activity(
        self, request: AnyRequest, tenant: Tenant, activity_id: ActivityId
    ) -> s.StoreActivity:
        async with read_context(runtime_of(request), tenant) as ctx:
            return await storefront.detail(ctx, activity_id)

    @get("/teams")
    async def list_teams(
        self,
        request: AnyRequest,
        tenant: Tenant,
        product_id: IdFilter = None,
        activity_id: IdFilter = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> s.StoreTeamList:
        async with read_context(runtime_of(request), tenant) as ctx:
            return await storefront.joinable(
                ctx, limit, cursor, _id_or_none(product_id), _id_or_none(activity_id)
            )

    @get("/teams/{team_id:str}")
    async def get_team(self, request: AnyRequest, tenant: Tenant, team_id: TeamId) -> s.StoreTeam:
        async with read_context(runtime_of(request), tenant) as ctx:
            return await storefront.team_page(ctx, team_id)

    @get("/my/teams", opt=MEMBER)
    async def my_teams(
        self,
        request: AnyRequest,
        tenant: Tenant,
        member: CurrentMember,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> s.MyTeamList:
        async with read_context(runtime_of(request), tenant) as ctx:
            return await storefront.my_teams(ctx, member.id, limit, cursor)

    # ``member``, not ``ctx``: opening and joining run their own short transactions.
    @post(
        "/activities/{activity_id:str}/open",
        opt=MEMBER,
        responses=answers(s.BuyOut, "The team opened and its order"),
    )
    async def open_team(
        self,
        request: AnyRequest,
        tenant: Tenant,
        member: CurrentMember,
        activity_id: ActivityId,
        data: JSONBody[s.BuyIn],
    ) -> Any:
        return await buying.open_team(
            runtime_of(request), tenant, member, activity_id, data, request.headers.get(HEADER)
        )

    @post(
        "/teams/{team_id:str}/join",
        opt=MEMBER,
        responses=answers(s.BuyOut, "The team joined and its order"),
    )
    async def join_team(
        self,
        request: AnyRequest,
        tenant: Tenant,
        member: CurrentMember,
        team_id: TeamId,
        data: JSONBody[s.BuyIn],
    ) -> Any:
        return await buying.join_team(
            runtime_of(request), tenant, member, team_id, data, request.headers.get(HEADER)
        )


class MerchantGroupBuyController(Controller):
    """Merchants: group-buy activities, their teams and figures, and closing a team."""

    path = "/groupbuy"
    tags = ["merchant", "groupbuy"]

    @post("/activities")
    async def create_activity(self, ctx: Ctx, data: JSONBody[s.ActivityIn]) -> s.ActivityOut:
        require_staff(ctx, "manager")
        return await service.create(ctx, data)

    @get("/activities")
    async def list_activities(
        self,
        ctx: Ctx,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: FromQuery[s.ActivityStatus | None] = None,
    ) -> Page[s.ActivityOut]:
        require_staff(ctx, "clerk")
        return await service.list_activities(ctx, limit, cursor, status)

    @get("/activities/{activity_id:str}")
    async def get_activity(self, ctx: Ctx, activity_id: ActivityId) -> s.ActivityOut:
        require_staff(ctx, "clerk")
        return await service.detail(ctx, activity_id)

    @put("/activities/{activity_id:str}")
    async def replace_activity(
        self, ctx: Ctx, activity_id: ActivityId, data: JSONBody[s.ActivityIn]
    ) -> s.ActivityOut:
        require_staff(ctx, "manager")
        return await service.replace(ctx, activity_id, data)

    @delete("/activities/{activity_id:str}")
    async def delete_activity(self, ctx: Ctx, activity_id: ActivityId) -> None:
        require_staff(ctx, "manager")
        await service.remove(ctx, activity_id)

    @post("/activities/{activity_id:str}/stop", status_code=200)
    async def stop_activity(self, ctx: Ctx, activity_id: ActivityId) -> s.ActivityOut:
        require_staff(ctx, "manager")
        return await service.stop(ctx, activity_id)

    @get("/activities/{activity_id:str}/stats")
    async def activity_stats(self, ctx: Ctx, activity_id: ActivityId) -> s.StatsOut:
        require_staff(ctx, "clerk")
        return await service.stats(ctx, activity_id)

    @get("/teams")
    async def list_teams(
        self,
        ctx: Ctx,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        activity_id: IdFilter = None,
        status: FromQuery[s.TeamStatus | None] = None,
    ) -> Page[s.TeamOut]:
        require_staff(ctx, "clerk")
        return await service.list_teams(ctx, limit, cursor, _id_or_none(activity_id), status)

    @get("/teams/{team_id:str}")
    async def get_team(self, ctx: Ctx, team_id: TeamId) -> s.TeamOut:
        require_staff(ctx, "clerk")
        return await service.team_detail(ctx, team_id)

    @post("/teams/{team_id:str}/close", status_code=200)
    async def close_team(
        self, ctx: Ctx, team_id: TeamId, data: JSONBody[s.CloseIn | None] = None
    ) -> s.TeamOut:
        principal = require_staff(ctx, "manager")
        if len(team_id) > ID_LENGTH:
            raise errors.team_not_found()
        reason = (data or s.CloseIn()).reason
        team = await teams.close_team(ctx, team_id, reason=reason, actor=actor_of(principal))
        return service.team_out(team, await service.members_of(ctx, team.id))


STORE_ROUTES: list[Any] = [StoreGroupBuyController]
MERCHANT_ROUTES: list[Any] = [MerchantGroupBuyController]
