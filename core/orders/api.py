"""HTTP routes of the orders domain (storefront and merchant)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from core.api import AnyRequest, Ctx, CurrentMember, Cursor, Limit, Tenant, runtime_of
from core.context import TenantContext
from core.idempotency import HEADER, answers, run_idempotent
from core.orders import placement, service
from core.orders import schemas as s
from core.paging import DEFAULT_LIMIT, Page

MEMBER = {"member": True}
PLACE_ROUTE = "POST /orders"
OrderId = FromPath[str]
MemberFilter = Annotated[str | None, QueryParameter(max_length=26)]
NumberFilter = Annotated[str | None, QueryParameter(max_length=32)]
PhoneFilter = Annotated[str | None, QueryParameter(max_length=20)]


class StoreOrdersController(Controller):
    """The buyer's orders: place (with an Idempotency-Key), list, read, cancel, confirm."""

    path = "/orders"
    tags = ["store"]

    @post("/", opt=MEMBER, responses=answers(s.OrderOut, "The order"))
    async def place_order(
        self,
        request: AnyRequest,
        tenant: Tenant,
        member: CurrentMember,
        data: JSONBody[s.PlaceOrderIn],
    ) -> Any:
        # ``member``, not ``ctx``: run_idempotent runs its own transactions.
        async def work(tx: TenantContext) -> s.OrderOut:
            return await placement.place_order(tx, data)

        return await run_idempotent(
            runtime_of(request),
            tenant,
            member,
            PLACE_ROUTE,
            request.headers.get(HEADER),
            data,
            work,
        )

    @get("/", opt=MEMBER)
    async def list_my_orders(
        self,
        ctx: Ctx,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: FromQuery[s.Status | None] = None,
    ) -> Page[s.OrderOut]:
        return await service.list_member_orders(ctx, limit, cursor, status)

    @get("/{order_id:str}", opt=MEMBER)
    async def get_my_order(self, ctx: Ctx, order_id: OrderId) -> s.OrderOut:
        return await service.member_order(ctx, order_id)

    @post("/{order_id:str}/cancel", status_code=200, opt=MEMBER)
    async def cancel_my_order(
        self, ctx: Ctx, order_id: OrderId, data: JSONBody[s.CancelIn | None] = None
    ) -> s.OrderOut:
        return await service.member_cancel(ctx, order_id, data.reason if data else "")

    @post("/{order_id:str}/confirm-receipt", status_code=200, opt=MEMBER)
    async def confirm_receipt(self, ctx: Ctx, order_id: OrderId) -> s.OrderOut:
        return await service.confirm_receipt(ctx, order_id)


class MerchantOrdersController(Controller):
    """The store's orders: list with filters, read with history, ship, cancel."""

    path = "/orders"
    tags = ["merchant"]

    @get("/")
    async def list_orders(
        self,
        ctx: Ctx,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: FromQuery[s.Status | None] = None,
        member_id: MemberFilter = None,
        number: NumberFilter = None,
        created_from: FromQuery[datetime | None] = None,
        created_to: FromQuery[datetime | None] = None,
        member_phone: PhoneFilter = None,
    ) -> Page[s.OrderOut]:
        """Filters: status, the member (``member_id``, or the phone they bound,
        ``member_phone``), the order number, the time it was placed (``created_from``
        included, ``created_to`` not)."""
        return await service.list_orders(
            ctx,
            limit,
            cursor,
            status=status,
            member_id=member_id,
            number=number,
            created_from=created_from,
            created_to=created_to,
            member_phone=member_phone,
        )

    @get("/{order_id:str}")
    async def get_order(self, ctx: Ctx, order_id: OrderId) -> s.MerchantOrderOut:
        return await service.merchant_order(ctx, order_id)

    @post("/{order_id:str}/ship", status_code=200)
    async def ship_order(
        self, ctx: Ctx, order_id: OrderId, data: JSONBody[s.ShipIn]
    ) -> s.MerchantOrderOut:
        return await service.ship(ctx, order_id, data)

    @post("/{order_id:str}/cancel", status_code=200)
    async def cancel_order(
        self, ctx: Ctx, order_id: OrderId, data: JSONBody[s.MerchantCancelIn]
    ) -> s.MerchantOrderOut:
        return await service.merchant_cancel(ctx, order_id, data.reason)


STORE_ROUTES: list[Any] = [StoreOrdersController]
MERCHANT_ROUTES: list[Any] = [MerchantOrdersController]
