"""The group-buy plugin's problem codes, one factory each."""

from __future__ import annotations

from core.errors import AppError, Conflict, FieldError, Invalid, NotFound

BUY_REQUIRED = "groupbuy.buy_required"
GROUP_ONLY = "groupbuy.group_only"
LIMIT_EXCEEDED = "groupbuy.limit_exceeded"


def activity_not_found() -> AppError:
    return NotFound("no such group-buy", code="groupbuy.activity_not_found")


def team_not_found() -> AppError:
    return NotFound("no such team", code="groupbuy.team_not_found")


def not_started() -> AppError:
    return Conflict("this group-buy has not started yet", code="groupbuy.not_started")


def activity_ended() -> AppError:
    return Conflict("this group-buy has ended", code="groupbuy.activity_ended")


def sku_not_in_activity() -> AppError:
    return Invalid("this SKU is not part of the group-buy", code="groupbuy.sku_not_in_activity")


def already_in_team() -> AppError:
    return Conflict(
        "you already have a team forming in this group-buy", code="groupbuy.already_in_team"
    )


def own_team() -> AppError:
    return Conflict("you are already in this team", code="groupbuy.own_team")


def team_full() -> AppError:
    return Conflict("this team is full", code="groupbuy.team_full")


def team_closed(status: str) -> AppError:
    return Conflict(f"this team is {status} and takes no one else", code="groupbuy.team_closed")


def team_expired() -> AppError:
    return Conflict("this team has run out of time", code="groupbuy.team_expired")


def order_limit(limit: int) -> AppError:
    return Conflict(f"at most {limit} per order in this group-buy", code=LIMIT_EXCEEDED)


def member_limit(limit: int) -> AppError:
    return Conflict(f"at most {limit} per member in this group-buy", code=LIMIT_EXCEEDED)


def one_line() -> AppError:
    return Invalid("a group-buy order has exactly one line", code="groupbuy.one_line")


def overlapping() -> AppError:
    return Conflict(
        "this product already has a group-buy in that time", code="groupbuy.overlapping_activity"
    )


def has_teams() -> AppError:
    return Conflict(
        "this group-buy has teams; stop it instead of deleting it", code="groupbuy.has_teams"
    )


# ---- the merchant's input (added with service.py) ------------------------------------------


def invalid(detail: str, code: str, field: str, message: str) -> AppError:
    """422 with the stable ``code`` and the failing field, as every input check answers."""
    return Invalid(detail, code=code, errors=[FieldError(field=field, message=message)])


def invalid_window(message: str) -> AppError:
    return invalid(
        "the group-buy's time window is wrong", "groupbuy.invalid_window", "ends_at", message
    )


def unknown_product() -> AppError:
    # The same answer for an id of no product and one of another store's: nothing leaks.
    return invalid(
        "no such product in this store", "groupbuy.unknown_product", "product_id", "no such product"
    )


def unknown_sku(index: int) -> AppError:
    return invalid(
        "a SKU is not one of the product's",
        "groupbuy.unknown_sku",
        f"items[{index}].sku_id",
        "not a SKU of this product",
    )


def duplicate_sku(index: int) -> AppError:
    return invalid(
        "a SKU is listed twice", "groupbuy.duplicate_sku", f"items[{index}].sku_id", "listed twice"
    )


def invalid_price(index: int, price: int) -> AppError:
    return invalid(
        "the group price must be below the SKU's price",
        "groupbuy.invalid_price",
        f"items[{index}].group_price",
        f"at most {price - 1}",
    )


def activity_stopped() -> AppError:
    return Conflict("a stopped group-buy cannot be changed", code="groupbuy.activity_stopped")


def product_fixed() -> AppError:
    return Conflict(
        "this group-buy has teams; its product cannot change", code="groupbuy.has_teams"
    )
