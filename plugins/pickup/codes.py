"""Pickup codes: issued when a pickup order is paid (or, if another plugin held it back, when
the hold is lifted), shown with a signed QR payload, verified once at the counter of their own
point by that point's staff, or from the storefront by a member who verifies there (a
community leader at their own point).

A code is 8 random digits from ``secrets``; the unique constraint on ``open_code`` keeps it
unique among the tenant's open codes (a clash is retried in a savepoint). Guessing is what
the lockout is for: each wrong code counts against the staff member and against the point
(``core.ratelimit.FailureCounter``, in Redis when the deployment has it), and at the limit
both answer 429 ``pickup.locked`` until the window passes. A success does not clear the
counts: a guesser holding one real code must not be able to reset their budget with it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from core.context import Principal, TenantContext
from core.db import utcnow
from core.orders.models import Order
from core.orders.state import transition
from core.ratelimit import FailureCounter
from plugins.pickup import errors, notices
from plugins.pickup import schemas as s
from plugins.pickup.models import PickupOrder, PickupPoint, PickupVerification
from plugins.pickup.service import store_point

CODE_DIGITS = 8
ISSUE_ATTEMPTS = 5
QR_PREFIX = "SPK1"
# Wrong codes allowed per staff member and per point in one window.
STAFF_FAILURE_LIMIT = 30
POINT_FAILURE_LIMIT = 100
FAILURE_WINDOW_S = 15 * 60


@dataclass(frozen=True)
class Guards:
    """The failure counters verification consults (built once per runtime, see api.py)."""

    staff: FailureCounter
    point: FailureCounter


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _signature(secret: str, tenant_id: str, order_id: str, code: str) -> str:
    message = f"{QR_PREFIX}|{tenant_id}|{order_id}|{code}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def qr_payload(secret: str, tenant_id: str, order_id: str, code: str) -> str:
    """What the member's QR encodes: the order and its code, signed by the server."""
    return f"{QR_PREFIX}.{order_id}.{code}.{_signature(secret, tenant_id, order_id, code)}"


def code_from_qr(secret: str, tenant_id: str, payload: str) -> str | None:
    """The code of a payload this server signed for this tenant, else None."""
    parts = payload.split(".")
    if len(parts) != 4 or parts[0] != QR_PREFIX:
        return None
    _, order_id, code, signature = parts
    expected = _signature(secret, tenant_id, order_id, code)
    return code if hmac.compare_digest(signature, expected) else None


async def issue(ctx: TenantContext, pickup: PickupOrder) -> str:
    """pending → open with a fresh code, and the pickup-ready notice recorded."""
    now = utcnow()
    for attempt in range(ISSUE_ATTEMPTS):
        code = new_code()
        try:
            async with ctx.session.begin_nested():
                await ctx.session.execute(
                    update(PickupOrder)
                    .where(PickupOrder.id == pickup.id, PickupOrder.status == "pending")
                    .values(status="open", code=code, open_code=code, issued_at=now)
                    .execution_options(synchronize_session=False)
                )
        except IntegrityError:
            if attempt == ISSUE_ATTEMPTS - 1:
                raise
            continue
        for name, value in {"status": "open", "code": code, "open_code": code}.items():
            set_committed_value(pickup, name, value)
        set_committed_value(pickup, "issued_at", now)
        pickup.ready_notified_at = now
        await notices.notify_ready(ctx, pickup)
        return code
    raise AssertionError("unreachable")


def _keys(tenant_id: str, point_id: str, verifier: Principal) -> tuple[str, str]:
    # The hash tag keeps a tenant's keys in one Redis Cluster slot.
    base = f"pickup:{{{tenant_id}}}:fail"
    return f"{base}:{verifier.kind}:{verifier.id}", f"{base}:point:{point_id}"


def _may_verify(point: PickupPoint, principal: Principal) -> bool:
    if principal.kind == "staff":
        return principal.id in point.staff_ids
    return principal.kind == "member" and principal.id in point.verifier_member_ids


async def verify(
    ctx: TenantContext,
    guards: Guards,
    secret: str,
    point_id: str,
    principal: Principal,
    data: s.VerifyIn,
) -> s.VerificationOut:
    if (data.code is None) == (data.qr is None):
        raise errors.code_or_qr()
    point = await ctx.session.get(PickupPoint, (ctx.tenant_id, point_id))
    if point is None:
        raise errors.point_not_found()
    if not _may_verify(point, principal):
        raise errors.not_point_staff()
    staff_key, point_key = _keys(ctx.tenant_id, point.id, principal)
    if await guards.staff.blocked(staff_key) or await guards.point.blocked(point_key):
        raise errors.locked(guards.staff.window_s)
    if data.qr is not None:
        code = code_from_qr(secret, ctx.tenant_id, data.qr)
        method = "qr"
    else:
        code = data.code if data.code is not None and data.code.isdigit() else None
        method = "code"
    pickup = None
    if code is not None:
        pickup = await ctx.session.scalar(
            select(PickupOrder).where(
                PickupOrder.open_code == code, PickupOrder.point_id == point.id
            )
        )
    if pickup is None:
        await guards.staff.fail(staff_key)
        await guards.point.fail(point_key)
        raise errors.code_invalid()
    now = utcnow()
    used = await ctx.session.scalar(
        update(PickupOrder)
        .where(PickupOrder.id == pickup.id, PickupOrder.status == "open")
        .values(status="used", open_code=None, closed_at=now)
        .returning(PickupOrder.id)
        .execution_options(synchronize_session=False)
    )
    order = await ctx.session.get(Order, (ctx.tenant_id, pickup.order_id))
    if used is None or order is None:  # a concurrent verification won
        raise errors.code_invalid()
    actor = f"{principal.kind}:{principal.id}"
    await transition(ctx, order, "completed", actor=actor, reason="picked up")
    by_staff = principal.kind == "staff"
    verification = PickupVerification(
        order_id=order.id,
        point_id=point.id,
        staff_id=principal.id if by_staff else "",
        member_id=None if by_staff else principal.id,
        method=method,
        verified_at=now,
    )
    ctx.session.add(verification)
    return s.VerificationOut(
        order_id=order.id,
        order_number=order.number,
        point_id=point.id,
        staff_id=verification.staff_id,
        member_id=verification.member_id,
        method=method,
        verified_at=now,
    )


async def ticket(ctx: TenantContext, secret: str, member_id: str, order_id: str) -> s.PickupTicket:
    """The member's own pickup order with its code and QR while it awaits pickup."""
    pickup = None
    if len(order_id) <= 26:
        pickup = await ctx.session.scalar(
            select(PickupOrder).where(
                PickupOrder.order_id == order_id, PickupOrder.member_id == member_id
            )
        )
    if pickup is None:
        raise errors.order_not_found()
    point = await ctx.session.get(PickupPoint, (ctx.tenant_id, pickup.point_id))
    assert point is not None  # a foreign key
    code = pickup.open_code
    return s.PickupTicket(
        order_id=pickup.order_id,
        status=pickup.status,
        point=store_point(point),
        slot_starts_at=pickup.slot_starts_at,
        code=code,
        qr=qr_payload(secret, ctx.tenant_id, pickup.order_id, code) if code else None,
    )
