"""The refund amount rules as pure functions: order discounts spread over the lines, units
worth their share, the last units taking the remainder, and the fee stage."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import AppError
from core.payments.refund_rules import (
    LineFacts,
    line_shares,
    requested_units,
    settle_amount,
    units_worth,
    worth_of_lines,
)


def line(line_id: str, quantity: int, total: int, held: int = 0, claimed: int = 0) -> LineFacts:
    return LineFacts(id=line_id, quantity=quantity, line_total=total, held=held, claimed=claimed)


def adjustment(amount: int, stage: str, line_key: str | None = None) -> dict[str, Any]:
    return {"source": "t", "label": "t", "amount": amount, "stage": stage, "line_key": line_key}


def test_order_discounts_are_spread_by_largest_remainder() -> None:
    lines = [line("A", 2, 6000), line("B", 1, 1000)]
    adjustments = [
        adjustment(-100, "promotion"),
        adjustment(-300, "line", "A"),  # already inside A's line_total: not spread again
        adjustment(1000, "fees"),
    ]
    shares, fees = line_shares(lines, adjustments, paid_amount=7900)
    assert shares == {"A": 5914, "B": 986} and fees == 1000
    assert sum(shares.values()) + fees == 7900


def test_ties_go_to_the_smaller_line_id_and_nothing_is_lost() -> None:
    lines = [line("B", 1, 100), line("A", 1, 100), line("C", 1, 100)]
    shares, fees = line_shares(lines, [adjustment(-2, "coupon")], paid_amount=298)
    assert shares == {"A": 99, "B": 99, "C": 100} and fees == 0


def test_a_fee_discount_larger_than_the_fees_counts_as_an_order_discount() -> None:
    lines = [line("A", 1, 1000)]
    adjustments = [adjustment(500, "fees"), adjustment(-700, "fees")]
    shares, fees = line_shares(lines, adjustments, paid_amount=800)
    assert shares == {"A": 800} and fees == 0


def test_free_goods_are_worth_nothing() -> None:
    shares, fees = line_shares([line("A", 1, 0)], [], paid_amount=600)
    assert shares == {"A": 0} and fees == 600


@pytest.mark.parametrize(
    ("share", "quantity", "parts", "expected"),
    [
        (11, 3, [1, 1, 1], [3, 3, 5]),
        (11, 3, [2, 1], [7, 4]),
        (10, 4, [3, 1], [7, 3]),
        (5914, 2, [1, 1], [2957, 2957]),
        (0, 2, [1, 1], [0, 0]),
    ],
)
def test_the_last_units_take_the_remainder(
    share: int, quantity: int, parts: list[int], expected: list[int]
) -> None:
    held = claimed = 0
    got = []
    for units in parts:
        worth = units_worth(share, quantity, held, claimed, units)
        got.append(worth)
        held, claimed = held + units, claimed + worth
    assert got == expected and claimed == share


def test_shipping_comes_back_with_the_last_units_of_an_unshipped_order() -> None:
    lines = [line("A", 2, 6000, held=1, claimed=2957), line("B", 1, 1000)]
    adjustments = [adjustment(-100, "promotion"), adjustment(1000, "fees")]
    rest = {"A": 1, "B": 1}
    worth = worth_of_lines(lines, adjustments, 7900, rest, unshipped=True)
    assert worth.per_line == {"A": 2957, "B": 986} and worth.fees == 1000
    assert worth.total == 4943
    shipped = worth_of_lines(lines, adjustments, 7900, rest, unshipped=False)
    assert shipped.fees == 0 and shipped.total == 3943
    part = worth_of_lines(lines, adjustments, 7900, {"B": 1}, unshipped=True)
    assert part.fees == 0 and part.total == 986


def test_refusals() -> None:
    lines = [line("A", 2, 2000, held=1)]
    with pytest.raises(AppError) as too_many:
        worth_of_lines(lines, [], 2000, {"A": 2}, unshipped=True)
    assert too_many.value.code == "refund.exceeds_quantity"
    with pytest.raises(AppError) as unknown:
        worth_of_lines(lines, [], 2000, {"Z": 1}, unshipped=True)
    assert unknown.value.code == "refund.unknown_line"
    assert unknown.value.errors[0].field == "lines[0].line_id"
    with pytest.raises(AppError) as twice:
        requested_units([("A", 1), ("A", 1)])
    assert twice.value.code == "refund.duplicate_line"
    assert twice.value.errors[0].field == "lines[1].line_id"
    with pytest.raises(AppError) as high:
        settle_amount(1001, 1000)
    assert high.value.code == "refund.amount_too_high" and high.value.status == 422
    with pytest.raises(AppError) as nothing:
        settle_amount(None, 0)
    assert nothing.value.code == "refund.nothing_to_refund"
    assert settle_amount(None, 1000) == 1000 and settle_amount(400, 1000) == 400
