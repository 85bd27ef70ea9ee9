"""HTTP routes of refunds and after-sales (storefront and merchant)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from core.api import AnyRequest, Caller, Ctx, CurrentMember, Cursor, Limit, Tenant, runtime_of
from core.context import TenantContext
from core.idempotency import HEADER, answers, run_idempotent
from core.orders.service import OrderNotFound
from core.paging import DEFAULT_LIMIT, Page
from core.payments import refund_schemas as s
from core.payments import refund_views as views
from core.payments import refunds

MEMBER = {"member": True}
REFUND_ROUTE = "POST /orders/{id}/refunds"
Id = FromPath[str]
OrderFilter = Annotated[str | None, QueryParameter(max_length=26)]


def _check_order_id(order_id: str) -> None:
    """A path that cannot name an order is 404 before an Idempotency-Key is claimed."""
    if not views.is_id(order_id):
        raise OrderNotFound


class StoreRefundsController(Controller):
    """The member's after-sales: ask for a refund (with an Idempotency-Key), follow it,
    withdraw it while the store has not decided."""

    path = "/"
    tags = ["store"]

    @post(
        "/orders/{order_id:str}/refunds",
        opt=MEMBER,
        responses=answers(s.RefundOut, "The refund requested"),
    )
    async def request_refund(
        self,
        request: AnyRequest,
        tenant: Tenant,
        member: CurrentMember,
        order_id: Id,
        data: JSONBody[s.RefundIn],
    ) -> Any:
        _check_order_id(order_id)

        # ``member``, not ``ctx``: run_idempotent runs its own transactions.
        async def work(tx: TenantContext) -> s.RefundOut:
            return views.refund_out(await refunds.request_refund(tx, order_id, data))

        return await run_idempotent(
            runtime_of(request),
            tenant,
            member,
            REFUND_ROUTE,
            request.headers.get(HEADER),
            # The order is part of the payload: one key reused for another order is a 422.
            {"order_id": order_id, "refund": data},
            work,
        )

    @get("/refunds", opt=MEMBER)
    async def list_my_refunds(
        self,
        ctx: Ctx,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: FromQuery[s.Status | None] = None,
    ) -> Page[s.RefundOut]:
        return await views.list_member_refunds(ctx, limit, cursor, status)

    @get("/refunds/{refund_id:str}", opt=MEMBER)
    async def get_my_refund(self, ctx: Ctx, refund_id: Id) -> s.RefundOut:
        return await views.member_refund(ctx, refund_id)

    @post("/refunds/{refund_id:str}/withdraw", status_code=200, opt=MEMBER)
    async def withdraw_refund(self, ctx: Ctx, refund_id: Id) -> s.RefundOut:
        return views.refund_out(await refunds.withdraw(ctx, refund_id))


class MerchantRefundsController(Controller):
    """The store's refunds: list and read (any staff), approve, reject, refund directly
    (owner or manager)."""

    path = "/"
    tags = ["merchant"]

    @get("/refunds")
    async def list_refunds(
        self,
        ctx: Ctx,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: FromQuery[s.Status | None] = None,
        order_id: OrderFilter = None,
    ) -> Page[s.MerchantRefundOut]:
        return await views.list_refunds(ctx, limit, cursor, status=status, order_id=order_id)

    @get("/refunds/{refund_id:str}")
    async def get_refund(self, ctx: Ctx, refund_id: Id) -> s.MerchantRefundOut:
        return await views.merchant_refund(ctx, refund_id)

    @post("/refunds/{refund_id:str}/approve", status_code=200)
    async def approve_refund(
        self, ctx: Ctx, refund_id: Id, data: JSONBody[s.ApproveIn | None] = None
    ) -> s.MerchantRefundOut:
        return await refunds.approve(ctx, refund_id, data)

    @post("/refunds/{refund_id:str}/reject", status_code=200)
    async def reject_refund(
        self, ctx: Ctx, refund_id: Id, data: JSONBody[s.RejectIn]
    ) -> s.MerchantRefundOut:
        return await refunds.reject(ctx, refund_id, data)

    @post("/orders/{order_id:str}/refunds/quote", status_code=200)
    async def quote_refund(
        self, ctx: Ctx, order_id: Id, data: JSONBody[s.MerchantRefundIn]
    ) -> s.RefundQuoteOut:
        """What ``POST /orders/{id}/refunds`` with this body would give back, without doing
        it (owner or manager): its amount and units, or the same refusal."""
        return await refunds.quote_refund(ctx, order_id, data)

    @post("/orders/{order_id:str}/refunds", responses=answers(s.MerchantRefundOut, "The refund"))
    async def refund_order(
        self,
        request: AnyRequest,
        tenant: Tenant,
        principal: Caller,
        order_id: Id,
        data: JSONBody[s.MerchantRefundIn],
    ) -> Any:
        _check_order_id(order_id)

        # ``principal``, not ``ctx``: run_idempotent runs its own transactions.
        async def work(tx: TenantContext) -> s.MerchantRefundOut:
            return await refunds.direct_refund(tx, order_id, data)

        return await run_idempotent(
            runtime_of(request),
            tenant,
            principal,
            REFUND_ROUTE,
            request.headers.get(HEADER),
            # The order is part of the payload: one key reused for another order is a 422.
            {"order_id": order_id, "refund": data},
            work,
        )


STORE_ROUTES: list[Any] = [StoreRefundsController]
MERCHANT_ROUTES: list[Any] = [MerchantRefundsController]
