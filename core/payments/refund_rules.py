"""What a refund may give back: the amount rules, as pure functions of the order's snapshot.

A line is worth what the buyer actually paid for it: its ``line_total`` (already after its own
adjustments, a per-line coupon part included) less its share of the order-level discounts of
the non-fee stages, which are spread over the lines in proportion to their totals (largest
remainder, ties by line id, so the figures never change between two calls). The fee stage
(shipping, handling, a fee discount) is the order's own: only a whole-order refund, or the line
refund that takes the last units of an order that has not shipped, gives it back.

``q`` of a line's ``Q`` units are worth ``floor(share * q / Q)``, except that the refund taking
the last units of a line gets whatever of the share is left, so a line refunded in parts
returns exactly its share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import AppError, Conflict, FieldError, Invalid

# Orders whose goods have not left the store: their shipping comes back with the last units,
# and a refund returns the stock unless the merchant says otherwise.
UNSHIPPED = frozenset({"paid", "awaiting_pickup"})


class ExceedsQuantity(Conflict):
    code = "refund.exceeds_quantity"


class AmountTooHigh(Invalid):
    code = "refund.amount_too_high"


@dataclass(frozen=True)
class LineFacts:
    """One order line as the rules see it, read under the order's lock."""

    id: str
    quantity: int
    line_total: int
    held: int  # units held by refunds requested, processing or succeeded
    claimed: int  # fen of the line's share those refunds' lines took


@dataclass(frozen=True)
class Worth:
    """What a line refund is worth: fen per line, and the fee-stage fen it includes."""

    per_line: dict[str, int]
    units: dict[str, int]
    fees: int

    @property
    def total(self) -> int:
        return sum(self.per_line.values()) + self.fees


def _order_discount(adjustments: Sequence[Mapping[str, Any]]) -> int:
    """Fen taken off the whole order by the non-fee stages (a positive number)."""
    return -sum(
        int(a.get("amount", 0))
        for a in adjustments
        if a.get("line_key") is None and a.get("stage") != "fees" and int(a.get("amount", 0)) < 0
    )


def line_shares(
    lines: Sequence[LineFacts], adjustments: Sequence[Mapping[str, Any]], paid_amount: int
) -> tuple[dict[str, int], int]:
    """(fen each line is worth, fen of the fee stage). What was paid is the truth: whatever it
    holds beyond the lines' shares is the fee stage, and a fee stage that came out negative (a
    fee discount larger than the fees) counts as one more order discount."""
    goods = sum(line.line_total for line in lines)
    discount = _order_discount(adjustments)
    fees = paid_amount - (goods - discount)
    if fees < 0:
        discount, fees = discount - fees, 0
    discount = min(discount, goods)
    if goods == 0:
        return {line.id: 0 for line in lines}, fees
    base = {line.id: discount * line.line_total // goods for line in lines}
    left = discount - sum(base.values())
    by_remainder = sorted(lines, key=lambda line: (-(discount * line.line_total % goods), line.id))
    for line in by_remainder[:left]:
        base[line.id] += 1
    return {line.id: line.line_total - base[line.id] for line in lines}, fees


def units_worth(share: int, quantity: int, held: int, claimed: int, units: int) -> int:
    """Fen that ``units`` more units of a line are worth, ``held`` of its ``quantity`` being
    held already and ``claimed`` fen of its ``share`` taken."""
    left = max(0, share - claimed)
    if held + units >= quantity:
        return left  # the last units take the remainder
    return min(share * units // quantity, left)


def requested_units(requested: Sequence[tuple[str, int]]) -> dict[str, int]:
    """``[(line id, quantity)]`` as a map; a line named twice is 422."""
    units: dict[str, int] = {}
    for index, (line_id, quantity) in enumerate(requested):
        if line_id in units:
            raise Invalid(
                "name each line once",
                code="refund.duplicate_line",
                errors=[FieldError(f"lines[{index}].line_id", "this line is named twice")],
            )
        units[line_id] = quantity
    return units


def worth_of_lines(
    lines: Sequence[LineFacts],
    adjustments: Sequence[Mapping[str, Any]],
    paid_amount: int,
    units: Mapping[str, int],
    *,
    unshipped: bool,
) -> Worth:
    """What refunding ``units`` (line id → quantity) is worth, or 422/409 when a line is not
    the order's or has fewer units left than asked."""
    by_id = {line.id: line for line in lines}
    for index, (line_id, quantity) in enumerate(units.items()):
        line = by_id.get(line_id)
        if line is None:
            raise Invalid(
                "this line is not part of the order",
                code="refund.unknown_line",
                errors=[FieldError(f"lines[{index}].line_id", "not a line of this order")],
            )
        if line.held + quantity > line.quantity:
            raise ExceedsQuantity(
                f"line {line_id} has {line.quantity - line.held} unit(s) left to refund, "
                f"not {quantity}"
            )
    shares, fees = line_shares(lines, adjustments, paid_amount)
    per_line = {
        line_id: units_worth(
            shares[line_id],
            by_id[line_id].quantity,
            by_id[line_id].held,
            by_id[line_id].claimed,
            quantity,
        )
        for line_id, quantity in units.items()
    }
    # The shipping comes back with the last units of an order that has not shipped.
    takes_last = all(line.held + units.get(line.id, 0) >= line.quantity for line in lines)
    return Worth(per_line=per_line, units=dict(units), fees=fees if takes_last and unshipped else 0)


def settle_amount(asked: int | None, worth: int) -> int:
    """The refund's amount: what was asked, which may be less than ``worth`` but never more;
    all of it when nothing was asked."""
    if asked is None:
        if worth <= 0:
            raise Conflict("there is nothing left to refund", code="refund.nothing_to_refund")
        return worth
    if asked > worth:
        raise AmountTooHigh(
            f"at most {worth} fen can be refunded for this, not {asked}",
            errors=[FieldError("amount", f"at most {worth}")],
        )
    return asked


def exceeds_paid(detail: str = "") -> AppError:
    return Conflict(
        detail or "the refunds of this order would exceed what was paid",
        code="refund.exceeds_paid",
    )
