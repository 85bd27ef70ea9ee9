"""HTTP routes of the pickup plugin (mounted under the tenant prefixes; the core adds the
``plugin.disabled`` guard)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from core.api import AnyRequest, Ctx, CurrentMember, Cursor, Limit, Tenant, runtime_of
from core.auth import require_staff
from core.catalog.storefront import read_context
from core.paging import DEFAULT_LIMIT, Page
from core.ratelimit import FailureCounter
from core.runtime import Runtime
from plugins.pickup import codes, service
from plugins.pickup import schemas as s

MEMBER = {"member": True}
PointId = FromPath[str]
# One pair of counters per runtime: in-process counts must outlive a request.
_GUARDS: dict[int, codes.Guards] = {}


def guards_of(rt: Runtime) -> codes.Guards:
    found = _GUARDS.get(id(rt))
    if found is None:
        found = codes.Guards(
            staff=FailureCounter(rt.redis, codes.STAFF_FAILURE_LIMIT, codes.FAILURE_WINDOW_S),
            point=FailureCounter(rt.redis, codes.POINT_FAILURE_LIMIT, codes.FAILURE_WINDOW_S),
        )
        _GUARDS[id(rt)] = found
    return found


class StorePickupController(Controller):
    """Buyers: pickup points by distance, their slots, and the code of a pickup order."""

    path = "/pickup"
    tags = ["store", "pickup"]

    @get("/points")
    async def list_points(
        self,
        request: AnyRequest,
        tenant: Tenant,
        lat: FromQuery[s.Latitude | None] = None,
        lng: FromQuery[s.Longitude | None] = None,
    ) -> s.StorePointList:
        async with read_context(runtime_of(request), tenant) as ctx:
            return await service.nearby(ctx, lat, lng)

    @get("/points/{point_id:str}/slots")
    async def list_slots(
        self, request: AnyRequest, tenant: Tenant, point_id: PointId
    ) -> s.SlotList:
        async with read_context(runtime_of(request), tenant) as ctx:
            return await service.slots(ctx, point_id)

    @post("/points/{point_id:str}/verify", status_code=200, opt=MEMBER)
    async def verify_code(
        self,
        request: AnyRequest,
        ctx: Ctx,
        member: CurrentMember,
        point_id: PointId,
        data: JSONBody[s.VerifyIn],
    ) -> s.VerificationOut:
        """A member who verifies at this point (a community leader) checks a buyer's code."""
        rt = runtime_of(request)
        return await codes.verify(
            ctx, guards_of(rt), rt.settings.secret_key, point_id, member, data
        )

    @get("/orders/{order_id:str}", opt=MEMBER)
    async def pickup_ticket(
        self, request: AnyRequest, ctx: Ctx, member: CurrentMember, order_id: FromPath[str]
    ) -> s.PickupTicket:
        secret = runtime_of(request).settings.secret_key
        return await codes.ticket(ctx, secret, member.id, order_id)


class MerchantPickupController(Controller):
    """Merchants: pickup points, and verifying codes at the counter."""

    path = "/pickup/points"
    tags = ["merchant", "pickup"]

    @post("/")
    async def create_point(self, ctx: Ctx, data: JSONBody[s.PointIn]) -> s.PointOut:
        require_staff(ctx, "manager")
        return await service.create_point(ctx, data)

    @get("/")
    async def list_points(
        self, ctx: Ctx, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[s.PointOut]:
        require_staff(ctx, "clerk")
        return await service.list_points(ctx, limit, cursor)

    @get("/{point_id:str}")
    async def get_point(self, ctx: Ctx, point_id: PointId) -> s.PointOut:
        require_staff(ctx, "clerk")
        return service.point_out(await service.get_point(ctx, point_id))

    @put("/{point_id:str}")
    async def replace_point(
        self, ctx: Ctx, point_id: PointId, data: JSONBody[s.PointIn]
    ) -> s.PointOut:
        require_staff(ctx, "manager")
        return await service.replace_point(ctx, point_id, data)

    @post("/{point_id:str}/verify", status_code=200)
    async def verify_code(
        self, request: AnyRequest, ctx: Ctx, point_id: PointId, data: JSONBody[s.VerifyIn]
    ) -> s.VerificationOut:
        principal = require_staff(ctx, "clerk")
        rt = runtime_of(request)
        return await codes.verify(
            ctx, guards_of(rt), rt.settings.secret_key, point_id, principal, data
        )


STORE_ROUTES: list[Any] = [StorePickupController]
MERCHANT_ROUTES: list[Any] = [MerchantPickupController]
