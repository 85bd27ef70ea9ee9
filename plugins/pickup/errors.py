"""The pickup plugin's problem codes, one factory each."""

from __future__ import annotations

from core.errors import AppError, Conflict, Forbidden, Invalid, NotFound

POINT_CLOSED = "pickup.point_closed"
SLOT_FULL = "pickup.slot_full"
SLOT_UNAVAILABLE = "pickup.slot_unavailable"
POINT_REQUIRED = "pickup.point_required"
UNKNOWN_POINT = "pickup.point_not_found"


def point_not_found() -> AppError:
    return NotFound("no such pickup point", code=UNKNOWN_POINT)


def slot_full() -> AppError:
    return Conflict("this pickup slot is full; choose another", code=SLOT_FULL)


def order_not_found() -> AppError:
    return NotFound("no such pickup order", code="pickup.order_not_found")


def code_invalid() -> AppError:
    # One answer for an unknown, used or other point's code: no hint for a guesser.
    return NotFound("this pickup code is not valid here", code="pickup.code_invalid")


def not_point_staff() -> AppError:
    return Forbidden("you may not verify at this pickup point", code="pickup.not_point_staff")


def locked(retry_after: int) -> AppError:
    return AppError(
        "too many wrong pickup codes; verification is locked for a while",
        code="pickup.locked",
        status=429,
        headers={"Retry-After": str(max(retry_after, 1))},
    )


def code_or_qr() -> AppError:
    return Invalid("give either code or qr", code="pickup.code_required")
