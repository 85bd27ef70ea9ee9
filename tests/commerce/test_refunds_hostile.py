"""Refunds against hostile or careless input: other members' and other stores' ids, bad
amounts, quantities, lines and photos, and staff without the role. Every refusal is a 4xx
problem with a stable code and leaves the order's holds untouched."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.runtime import Runtime
from storeplug.testing import make_member, problem, staff_auth
from tests.commerce.orders_support import Shop, make_sku, new_shop
from tests.commerce.refunds_support import (
    ask_refund,
    order_and_lines,
    paid_order,
    refund_directly,
)

REASON = {"reason": "尺码不合适"}


async def test_other_members_and_other_stores_see_nothing(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, price=1000, stock=5)
    order = await paid_order(client, rt, shop, [(sku, 1)])
    asked = await ask_refund(client, merchant, buyer, order["id"], REASON)
    assert asked.status_code == 201, asked.text
    refund_id = asked.json()["id"]

    stranger = await make_member(rt, merchant, "stranger")
    problem(
        await ask_refund(client, merchant, stranger, order["id"], REASON), 404, "order.not_found"
    )
    for method, path in (
        ("GET", f"/refunds/{refund_id}"),
        ("POST", f"/refunds/{refund_id}/withdraw"),
    ):
        response = await client.request(method, f"{merchant.store}{path}", headers=stranger.auth)
        problem(response, 404, "refund.not_found")
    mine = await client.get(f"{merchant.store}/refunds", headers=stranger.auth)
    assert mine.status_code == 200 and mine.json()["items"] == []

    other = await new_shop(client, rt)
    other_sku = await make_sku(rt, other.merchant, price=1000, stock=5)
    other_order = await paid_order(client, rt, other, [(other_sku, 1)])
    m = other.merchant
    for method, path, body in (
        ("GET", f"/refunds/{refund_id}", None),
        ("POST", f"/refunds/{refund_id}/approve", None),
        ("POST", f"/refunds/{refund_id}/reject", {"reason": "no"}),
    ):
        response = await client.request(method, f"{m.merchant}{path}", json=body, headers=m.auth)
        problem(response, 404, "refund.not_found")
    listed = await client.get(
        f"{m.merchant}/refunds", params={"order_id": order["id"]}, headers=m.auth
    )
    assert listed.status_code == 200 and listed.json()["items"] == []
    problem(await refund_directly(client, m, order["id"], REASON), 404, "order.not_found")
    # This store's order with the other store's line.
    foreign_line = {**REASON, "lines": [{"line_id": order["lines"][0]["id"], "quantity": 1}]}
    refused = problem(
        await refund_directly(client, m, other_order["id"], foreign_line),
        422,
        "refund.unknown_line",
    )
    assert refused["errors"][0]["field"] == "lines[0].line_id"
    theirs = await client.get(f"{m.store}/refunds/{refund_id}", headers=other.buyer.auth)
    problem(theirs, 404, "refund.not_found")
    # A member token of one store is refused on the other.
    problem(
        await ask_refund(client, m, buyer, other_order["id"], REASON), 401, "auth.invalid_token"
    )
    # Nothing moved on either order.
    row, _ = await order_and_lines(rt, merchant, order["id"])
    assert row.refund_held == row.paid_amount and row.refunded_amount == 0
    row, _ = await order_and_lines(rt, m, other_order["id"])
    assert row.refund_held == 0


BAD_BODIES: list[tuple[str, dict[str, Any], int, str]] = [
    ("zero amount", {**REASON, "amount": 0}, 400, "request.invalid"),
    ("negative amount", {**REASON, "amount": -100}, 400, "request.invalid"),
    ("huge amount", {**REASON, "amount": 2**40}, 400, "request.invalid"),
    ("float amount", {**REASON, "amount": 1.5}, 400, "request.invalid"),
    ("no reason", {"amount": 100}, 400, "request.invalid"),
    ("empty reason", {"reason": ""}, 400, "request.invalid"),
    ("long reason", {"reason": "x" * 201}, 400, "request.invalid"),
    ("zero quantity", {**REASON, "lines": [{"line_id": "LINE", "quantity": 0}]}, 400, ""),
    ("negative quantity", {**REASON, "lines": [{"line_id": "LINE", "quantity": -1}]}, 400, ""),
    ("no lines", {**REASON, "lines": []}, 400, "request.invalid"),
    ("bad line id", {**REASON, "lines": [{"line_id": "x'; --", "quantity": 1}]}, 400, ""),
    ("photo not a url", {**REASON, "photos": ["javascript:alert(1)"]}, 400, ""),
    ("ten photos", {**REASON, "photos": ["https://img.example/p.png"] * 10}, 400, ""),
    ("long photo", {**REASON, "photos": ["https://img.example/" + "p" * 500]}, 400, ""),
    ("unknown field", {**REASON, "refund_everything": True}, 400, "request.invalid"),
    (
        "line twice",
        {**REASON, "lines": [{"line_id": "LINE", "quantity": 1}] * 2},
        422,
        "refund.duplicate_line",
    ),
    ("too many units", {**REASON, "lines": [{"line_id": "LINE", "quantity": 3}]}, 409, ""),
    ("more than paid", {**REASON, "amount": 999_999}, 422, "refund.amount_too_high"),
]


def with_line(body: dict[str, Any], line_id: str) -> dict[str, Any]:
    """The body with the placeholder ``"LINE"`` replaced by a line of the order."""
    if "lines" not in body:
        return body
    lines = [
        {**entry, "line_id": line_id} if entry["line_id"] == "LINE" else entry
        for entry in body["lines"]
    ]
    return {**body, "lines": lines}


@pytest.mark.parametrize("case", BAD_BODIES, ids=[case[0] for case in BAD_BODIES])
async def test_bad_refund_bodies_are_refused(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, case: tuple[str, dict[str, Any], int, str]
) -> None:
    _, body, status, code = case
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, price=1000, stock=5)
    order = await paid_order(client, rt, shop, [(sku, 2)])
    line = order["lines"][0]["id"]
    filled = with_line(body, line)
    expected = code or {400: "request.invalid", 409: "refund.exceeds_quantity"}[status]
    problem(await ask_refund(client, merchant, buyer, order["id"], filled), status, expected)
    problem(await refund_directly(client, merchant, order["id"], filled), status, expected)
    row, lines = await order_and_lines(rt, merchant, order["id"])
    assert row.refund_held == 0 and lines[line].refund_held_quantity == 0


async def test_clerks_read_refunds_but_do_not_decide(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, price=1000, stock=5)
    order = await paid_order(client, rt, shop, [(sku, 1)])
    asked = await ask_refund(client, merchant, buyer, order["id"], REASON)
    assert asked.status_code == 201, asked.text
    refund_id = asked.json()["id"]
    clerk = await staff_auth(client, merchant, "clerk")
    read = await client.get(f"{merchant.merchant}/refunds/{refund_id}", headers=clerk)
    assert read.status_code == 200 and read.json()["member_id"] == buyer.id
    listed = await client.get(f"{merchant.merchant}/refunds", headers=clerk)
    assert [r["id"] for r in listed.json()["items"]] == [refund_id]
    for path, body in (("approve", None), ("reject", {"reason": "no"})):
        response = await client.post(
            f"{merchant.merchant}/refunds/{refund_id}/{path}", json=body, headers=clerk
        )
        problem(response, 403, "auth.role_required")
    problem(
        await refund_directly(client, merchant, order["id"], REASON, auth=clerk),
        403,
        "auth.role_required",
    )
    # A member token is no merchant credential, and a staff token no member's.
    problem(
        await client.get(f"{merchant.merchant}/refunds", headers=buyer.auth),
        401,
        "auth.invalid_token",
    )
    problem(
        await client.get(f"{merchant.store}/refunds", headers=merchant.auth),
        401,
        "auth.invalid_token",
    )
    manager = await staff_auth(client, merchant, "manager")
    approved = await client.post(
        f"{merchant.merchant}/refunds/{refund_id}/approve", headers=manager
    )
    assert approved.status_code == 200, approved.text
    for bad_id in ("nope", "0" * 26, "%27%20OR%201=1"):
        response = await client.get(f"{merchant.merchant}/refunds/{bad_id}", headers=manager)
        assert response.status_code == 404, response.text
