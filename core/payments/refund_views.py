"""Reading refunds: one refund (the member's own, or any of the store's for its staff), the
member's list and the merchant's list with filters, and their response shapes."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from sqlalchemy import Select, select

from core.auth import require_staff
from core.context import TenantContext
from core.errors import AppError
from core.paging import Page, decode_cursor, encode_cursor
from core.payments import refund_schemas as s
from core.payments.models import Refund

_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


class RefundNotFound(AppError):
    status = 404
    code = "refund.not_found"

    def __init__(self) -> None:
        super().__init__("no such refund")


def is_id(value: str) -> bool:
    """Whether ``value`` looks like one of our ids (a ULID); anything else is never looked up."""
    return bool(_ID.match(value))


async def find_refund(
    ctx: TenantContext, refund_id: str, *, member_id: str | None = None
) -> Refund:
    """The refund of this tenant (and of ``member_id`` when given), else 404: another
    member's or another store's refund is indistinguishable from one that does not exist."""
    if not is_id(refund_id):
        raise RefundNotFound
    refund = await ctx.session.get(Refund, (ctx.tenant_id, refund_id))
    if refund is None or (member_id is not None and refund.member_id != member_id):
        raise RefundNotFound
    return refund


def _fields(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "order_id": refund.order_id,
        "status": refund.status,
        "amount": refund.amount,
        "whole_order": refund.whole_order,
        "lines": msgspec.convert(list(refund.lines), list[s.RefundLineOut]),
        "reason": refund.reason,
        "photos": list(refund.photos),
        "reject_reason": refund.reject_reason,
        "restock": refund.restock,
        "created_at": refund.created_at,
        "decided_at": refund.decided_at,
        "succeeded_at": refund.succeeded_at,
    }


def refund_out(refund: Refund) -> s.RefundOut:
    return s.RefundOut(**_fields(refund))


def merchant_refund_out(refund: Refund) -> s.MerchantRefundOut:
    return s.MerchantRefundOut(
        **_fields(refund),
        member_id=refund.member_id,
        requested_by=refund.requested_by,
        decided_by=refund.decided_by,
        provider=refund.provider,
        provider_refund_id=refund.provider_refund_id,
        provider_status=refund.provider_status,
        checked_at=refund.checked_at,
    )


async def _newest_first(
    ctx: TenantContext, query: Select[Any], limit: int, cursor: str | None
) -> tuple[list[Refund], str | None]:
    """One page, newest first: ids are ULIDs, so "older" is simply a smaller id."""
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(Refund.id < after)
    rows = list(await ctx.session.scalars(query.order_by(Refund.id.desc()).limit(limit + 1)))
    visible = rows[:limit]
    return visible, encode_cursor(visible[-1].id) if len(rows) > limit else None


def _member_id(ctx: TenantContext) -> str:
    principal = ctx.principal
    if principal is None or principal.kind != "member":
        raise AppError("sign in first", code="auth.required", status=401)
    return principal.id


async def list_member_refunds(
    ctx: TenantContext, limit: int, cursor: str | None, status: str | None
) -> Page[s.RefundOut]:
    query = select(Refund).where(Refund.member_id == _member_id(ctx))
    if status:
        query = query.where(Refund.status == status)
    rows, next_cursor = await _newest_first(ctx, query, limit, cursor)
    return Page(items=[refund_out(r) for r in rows], next_cursor=next_cursor)


async def member_refund(ctx: TenantContext, refund_id: str) -> s.RefundOut:
    return refund_out(await find_refund(ctx, refund_id, member_id=_member_id(ctx)))


async def list_refunds(
    ctx: TenantContext,
    limit: int,
    cursor: str | None,
    *,
    status: str | None = None,
    order_id: str | None = None,
) -> Page[s.MerchantRefundOut]:
    require_staff(ctx, "clerk")
    query = select(Refund)
    if status:
        query = query.where(Refund.status == status)
    if order_id:
        query = query.where(Refund.order_id == order_id)
    rows, next_cursor = await _newest_first(ctx, query, limit, cursor)
    return Page(items=[merchant_refund_out(r) for r in rows], next_cursor=next_cursor)


async def merchant_refund(ctx: TenantContext, refund_id: str) -> s.MerchantRefundOut:
    require_staff(ctx, "clerk")
    return merchant_refund_out(await find_refund(ctx, refund_id))
