"""The refund pages of the merchant console: refunding an order (whole, some units, or an
amount) through a confirmation step, and the members' refund requests to approve or reject.

Thin controllers over ``core.payments.refunds`` and ``refund_views``, the functions the JSON
API calls. The confirmed refund runs under an idempotency key made with the confirmation
page, like the API's ``Idempotency-Key``: a second click, or the form sent twice, refunds
once."""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

import msgspec
from litestar import Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath, FromQuery

from core.api import AnyRequest, Caller, Ctx, Cursor, Limit, Tenant, runtime_of
from core.cart.schemas import MAX_QUANTITY_INPUT
from core.console.forms import REQUIRED, WHOLE_NUMBER, Form, PositiveYuan, parse_form, read_form
from core.console.i18n import N_
from core.console.lists import paging
from core.console.web import page, redirect
from core.context import TenantContext
from core.errors import AppError
from core.idempotency import run_idempotent
from core.orders import service as orders
from core.orders.console import REFUND_STATUS_LABELS, STATUS_LABELS, order_page
from core.orders.schemas import Reason
from core.paging import DEFAULT_LIMIT
from core.payments import refund_rules, refund_views, refunds
from core.payments import refund_schemas as s
from core.payments.refund_api import REFUND_ROUTE

Id = FromPath[str]
ERROR_TEXTS = {
    "refund.exceeds_paid": N_(
        "That would refund more than was paid (other refunds hold the rest)."
    ),
    "refund.exceeds_quantity": N_("An item has fewer units left to refund."),
    "refund.amount_too_high": N_("The amount is more than those items are worth."),
    "refund.nothing_to_refund": N_("There is nothing left to refund."),
    "refund.not_allowed": N_("This order cannot be refunded now."),
    "refund.no_payment": N_("This order has no payment to refund."),
    "refund.state_changed": N_("Someone else decided this request a moment ago; reload the page."),
    "idempotency.in_flight": N_("This refund is being made already; reload the order in a moment."),
    "idempotency.key_reused": N_("This confirmation was for another refund; start again."),
}
DONE = {
    "approved": N_("Approved: the money is on its way back to the buyer."),
    "rejected": N_("Rejected: the buyer sees your reason."),
}
NO_UNITS = N_("Enter how many units of at least one item.")
KEY_FIELD = "key"


class RefundForm(msgspec.Struct, kw_only=True):
    """A merchant's refund as the order page posts it; the units come as ``qty.<line id>``."""

    mode: Literal["whole", "lines", "amount"] = "whole"
    reason: Reason
    amount: PositiveYuan | None = None


class ApproveForm(msgspec.Struct, kw_only=True):
    restock: bool = False


class RefundFilters(msgspec.Struct, kw_only=True):
    status: Literal[
        "all", "requested", "processing", "succeeded", "failed", "rejected", "withdrawn"
    ] = "requested"


Units = Annotated[int, msgspec.Meta(ge=0, le=MAX_QUANTITY_INPUT)]


def _ask(posted: FormMultiDict) -> tuple[Form[RefundForm], s.MerchantRefundIn | None]:
    """The refund the form asks for, or the form with its errors."""
    form = parse_form({key: posted.get(key) for key in posted}, RefundForm)
    lines: list[s.RefundLineIn] = []
    for key in posted:
        if not key.startswith("qty."):
            continue
        raw = posted.get(key)
        form.values[key] = raw
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            continue
        try:
            units = msgspec.convert(int(text), Units)
            if units:
                lines.append(
                    msgspec.convert({"line_id": key[4:], "quantity": units}, s.RefundLineIn)
                )
        except (ValueError, msgspec.ValidationError):
            form.errors["lines"] = (WHOLE_NUMBER, {})
    if not form.ok or form.data is None:
        return form, None
    data = form.data
    if data.mode == "lines" and not lines:
        form.errors["lines"] = (NO_UNITS, {})
    if data.mode == "amount" and data.amount is None:
        form.errors["amount"] = (REQUIRED, {})
    if form.errors:
        form.data = None
        return form, None
    return form, s.MerchantRefundIn(
        reason=data.reason,
        lines=lines if data.mode == "lines" else None,
        amount=data.amount if data.mode != "whole" else None,
    )


@post("/orders/{order_id:str}/refund", include_in_schema=False)
async def refund_order(request: AnyRequest, ctx: Ctx, order_id: Id) -> Response[str]:
    """The refund's confirmation page: what it gives back, before it is made."""
    form, ask = _ask(await request.form())
    status = 422
    if ask is not None:
        try:
            async with ctx.savepoint():
                quote = await refunds.quote_refund(ctx, order_id, ask)
        except AppError as exc:
            status = form.refuse(exc, texts=ERROR_TEXTS)
        else:
            order = await orders.merchant_order(ctx, order_id)
            return page(
                request,
                "payments/refund_confirm.html",
                order=order,
                titles={line.id: f"{line.title} {line.sku_label}".strip() for line in order.lines},
                quote=quote,
                form=form,
                key=secrets.token_urlsafe(18),
            )
    return await order_page(request, ctx, order_id, status=status, refund_form=form)


@post("/orders/{order_id:str}/refund/confirm", include_in_schema=False)
async def confirm_refund(
    request: AnyRequest, tenant: Tenant, principal: Caller, order_id: Id
) -> Any:
    """Make the refund, once per confirmation page. No ``ctx``: ``run_idempotent`` runs
    its own transactions."""
    rt = runtime_of(request)
    posted = await request.form()
    form, ask = _ask(posted)
    key = posted.get(KEY_FIELD)
    status = 422
    if ask is not None and isinstance(key, str) and key:

        async def work(tx: TenantContext) -> s.MerchantRefundOut:
            return await refunds.direct_refund(tx, order_id, ask)

        try:
            await run_idempotent(
                rt,
                tenant,
                principal,
                REFUND_ROUTE,
                key,
                {"order_id": order_id, "refund": ask},
                work,
            )
        except AppError as exc:
            status = form.refuse(exc, texts=ERROR_TEXTS)
        else:
            return redirect(request, f"orders/{order_id}?done=refunded")
    async with rt.tenant_context(tenant, principal) as ctx:
        return await order_page(request, ctx, order_id, status=status, refund_form=form)


# ---- the members' refund requests ------------------------------------------------------------


@get("/refunds", include_in_schema=False)
async def refund_list(
    request: AnyRequest, ctx: Ctx, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Response[str]:
    filters = parse_form({"status": request.query_params.get("status")}, RefundFilters)
    chosen = filters.data.status if filters.data is not None else "requested"
    found = await refund_views.list_refunds(
        ctx, limit, cursor, status=None if chosen == "all" else chosen
    )
    return page(
        request,
        "payments/refunds.html",
        status=200 if filters.ok else 422,
        filters=filters,
        chosen=chosen,
        refunds=found.items,
        paging=paging(request, found.next_cursor),
        statuses=REFUND_STATUS_LABELS,
    )


async def refund_page(
    request: AnyRequest,
    ctx: TenantContext,
    refund_id: str,
    *,
    status: int = 200,
    notice: str = "",
    **forms: Form[Any],
) -> Response[str]:
    refund = await refund_views.merchant_refund(ctx, refund_id)
    order = await orders.merchant_order(ctx, refund.order_id)
    lines = {line.id: line for line in order.lines}
    context: dict[str, Any] = {
        "refund": refund,
        "order": order,
        "lines": lines,
        "notice": DONE.get(notice, ""),
        "statuses": REFUND_STATUS_LABELS,
        "order_statuses": STATUS_LABELS,
        # Goods that have not shipped go back on sale unless the person says otherwise.
        "approve_form": Form(values={"restock": order.status in refund_rules.UNSHIPPED}),
        "reject_form": Form(values={}),
        **forms,
    }
    return page(request, "payments/refund.html", status=status, **context)


@get("/refunds/{refund_id:str}", include_in_schema=False)
async def refund_detail(
    request: AnyRequest, ctx: Ctx, refund_id: Id, done: FromQuery[str] = ""
) -> Response[str]:
    return await refund_page(request, ctx, refund_id, notice=done)


@post("/refunds/{refund_id:str}/approve", include_in_schema=False)
async def approve_refund(request: AnyRequest, ctx: Ctx, refund_id: Id) -> Any:
    form = await read_form(request, ApproveForm)
    status = 422
    if form.ok and form.data is not None:
        try:
            async with ctx.savepoint():
                await refunds.approve(ctx, refund_id, s.ApproveIn(restock=form.data.restock))
        except AppError as exc:
            status = form.refuse(exc, texts=ERROR_TEXTS)
        else:
            return redirect(request, f"refunds/{refund_id}?done=approved")
    return await refund_page(request, ctx, refund_id, status=status, approve_form=form)


@post("/refunds/{refund_id:str}/reject", include_in_schema=False)
async def reject_refund(request: AnyRequest, ctx: Ctx, refund_id: Id) -> Any:
    form = await read_form(request, s.RejectIn)
    status = 422
    if form.ok and form.data is not None:
        try:
            async with ctx.savepoint():
                await refunds.reject(ctx, refund_id, form.data)
        except AppError as exc:
            status = form.refuse(exc, texts=ERROR_TEXTS)
        else:
            return redirect(request, f"refunds/{refund_id}?done=rejected")
    return await refund_page(request, ctx, refund_id, status=status, reject_form=form)


CONSOLE_ROUTES = [
    refund_order,
    confirm_refund,
    refund_list,
    refund_detail,
    approve_refund,
    reject_refund,
]
