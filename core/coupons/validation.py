"""The rules a coupon template must meet, each refused as a 422 with its own ``coupon.*``
code and the failing field: the fields a kind needs are set and in range, the fields it does
not use are left at their defaults (a percent on a fixed coupon is a mistake, not a no-op),
one kind of validity, a scope with ids exactly when it names categories or products."""

from __future__ import annotations

from datetime import datetime

from core.coupons import schemas as s
from core.errors import FieldError, Invalid

# The fields each kind uses; any other money field must stay at its default.
_USES: dict[str, frozenset[str]] = {
    "fixed": frozenset({"amount"}),
    "percent": frozenset({"percent_off", "max_discount"}),
    "threshold": frozenset({"amount"}),
    "free_shipping": frozenset(),
}


def _refuse(code: str, field: str, message: str) -> Invalid:
    return Invalid(message, code=code, errors=[FieldError(field=field, message=message)])


def _check_kind(data: s.TemplateIn) -> None:
    uses = _USES[data.kind]
    given = {
        "amount": data.amount != 0,
        "percent_off": data.percent_off != 0,
        "max_discount": data.max_discount is not None,
    }
    for field, is_set in given.items():
        if is_set and field not in uses:
            raise _refuse(
                "coupon.field_not_allowed", field, f"a {data.kind} coupon does not take {field}"
            )
    if "amount" in uses and not 1 <= data.amount <= s.MAX_FEN:
        raise _refuse("coupon.invalid_amount", "amount", f"amount is 1..{s.MAX_FEN} fen")
    if data.kind == "percent":
        if not 1 <= data.percent_off <= 99:
            raise _refuse(
                "coupon.invalid_percent", "percent_off", "percent_off is 1..99 (15 is 8.5折)"
            )
        if data.max_discount is not None and not 1 <= data.max_discount <= s.MAX_FEN:
            raise _refuse(
                "coupon.invalid_max_discount",
                "max_discount",
                f"max_discount is 1..{s.MAX_FEN} fen, or null for no cap",
            )
    if not 0 <= data.min_spend <= s.MAX_FEN:
        raise _refuse("coupon.invalid_min_spend", "min_spend", f"min_spend is 0..{s.MAX_FEN} fen")
    if data.kind == "threshold" and data.min_spend < data.amount:
        raise _refuse(
            "coupon.invalid_min_spend",
            "min_spend",
            "a threshold coupon (满减) needs a min_spend of at least its amount",
        )


def _check_scope(data: s.TemplateIn) -> None:
    count = len(set(data.scope_ids))
    if data.scope == "all" and count:
        raise _refuse("coupon.invalid_scope", "scope_ids", "scope all takes no scope_ids")
    if data.scope != "all" and not 1 <= count <= s.MAX_SCOPE_IDS:
        raise _refuse(
            "coupon.invalid_scope",
            "scope_ids",
            f"scope {data.scope} needs 1..{s.MAX_SCOPE_IDS} ids",
        )


def _check_validity(data: s.TemplateIn, now: datetime) -> None:
    dated = data.valid_from is not None or data.valid_until is not None
    if data.valid_days is not None:
        if dated:
            raise _refuse(
                "coupon.invalid_validity",
                "valid_days",
                "give fixed dates or valid_days, not both",
            )
        if not 1 <= data.valid_days <= s.MAX_VALID_DAYS:
            raise _refuse(
                "coupon.invalid_validity", "valid_days", f"valid_days is 1..{s.MAX_VALID_DAYS}"
            )
        return
    if data.valid_from is None or data.valid_until is None:
        field = "valid_until" if data.valid_from is not None else "valid_from"
        raise _refuse(
            "coupon.invalid_validity", field, "give valid_from and valid_until, or valid_days"
        )
    if data.valid_from >= data.valid_until:
        raise _refuse("coupon.invalid_validity", "valid_until", "must be after valid_from")
    if data.valid_until <= now:
        raise _refuse("coupon.invalid_validity", "valid_until", "must be in the future")


def check_template(data: s.TemplateIn, now: datetime) -> None:
    """Refuse a template that breaks a rule (the first one found)."""
    _check_kind(data)
    _check_scope(data)
    _check_validity(data, now)
    if data.total_stock is not None and not 1 <= data.total_stock <= s.MAX_STOCK:
        raise _refuse(
            "coupon.invalid_stock",
            "total_stock",
            f"total_stock is 1..{s.MAX_STOCK}, or null for unlimited",
        )
    if not 1 <= data.per_member_limit <= s.MAX_PER_MEMBER:
        raise _refuse(
            "coupon.invalid_limit", "per_member_limit", f"per_member_limit is 1..{s.MAX_PER_MEMBER}"
        )
