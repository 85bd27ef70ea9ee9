"""The flash sale's problem codes, one factory each, and the map from a stock verdict (Redis
script or database check) to the answer the buyer gets."""

from __future__ import annotations

from collections.abc import Callable

from core.errors import AppError, Conflict, Invalid, NotFound


class SoldOut(Conflict):
    code = "flashsale.sold_out"
    # True when the database refused after the Redis gate let the buy through: the unit was
    # never there to sell, so Redis keeps it taken (see buying.py).
    from_database = False


def sold_out(*, from_database: bool = False) -> SoldOut:
    error = SoldOut("sold out")
    error.from_database = from_database
    return error


def not_found() -> AppError:
    return NotFound("no such flash sale", code="flashsale.not_found")


def not_started() -> AppError:
    return Conflict("the flash sale has not started yet", code="flashsale.not_started")


def ended() -> AppError:
    return Conflict("the flash sale has ended", code="flashsale.ended")


def sku_not_in_activity() -> AppError:
    return NotFound("this item is not in the flash sale", code="flashsale.unknown_sku")


LIMIT_EXCEEDED = "flashsale.limit_exceeded"
BUY_REQUIRED = "flashsale.buy_required"


def limit_exceeded() -> AppError:
    return Conflict(
        "you have already bought as many as this flash sale allows", code=LIMIT_EXCEEDED
    )


def order_limit_exceeded() -> AppError:
    return Invalid(
        "more than this flash sale allows in one order", code="flashsale.order_limit_exceeded"
    )


def rate_limited(retry_after: int) -> AppError:
    return AppError(
        "too many buy requests; try again shortly",
        code="flashsale.rate_limited",
        status=429,
        headers={"Retry-After": str(max(retry_after, 1))},
    )


def invalid_state(detail: str) -> AppError:
    return Conflict(detail, code="flashsale.invalid_state")


VERDICT_ERRORS: dict[str, Callable[[], AppError]] = {
    "absent": not_found,
    "not_started": not_started,
    "ended": ended,
    "no_sku": sku_not_in_activity,
    "order_limit": order_limit_exceeded,
    "limit": limit_exceeded,
    "sold_out": sold_out,
}
