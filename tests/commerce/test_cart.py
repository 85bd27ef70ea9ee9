"""The storefront cart API (/store/{tenant}/v1/cart) over real HTTP, on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from core.cart.models import CartLine
from core.catalog.models import Sku
from core.runtime import Runtime
from storeplug.testing import Merchant, Shopper, enable, make_member, onboard, problem
from tests.commerce.test_pricing import make_sku, set_level, set_shipping, shop


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def add(
    client: httpx.AsyncClient,
    merchant: Merchant,
    member: Shopper,
    sku: str,
    quantity: int = 1,
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        f"{merchant.store}/cart/lines",
        json={"sku_id": sku, "quantity": quantity, **extra},
        headers=member.auth,
    )


async def cart_of(client: httpx.AsyncClient, merchant: Merchant, member: Shopper) -> dict[str, Any]:
    return ok(await client.get(f"{merchant.store}/cart", headers=member.auth))


def line_for(cart: dict[str, Any], sku: str, activity: str = "") -> dict[str, Any]:
    return next(x for x in cart["lines"] if x["sku_id"] == sku and x["activity"] == activity)


# ---- shapes ------------------------------------------------------------------------------


async def test_add_get_and_the_shapes(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant, member = await shop(client, rt)
    await set_level(rt, merchant, member, 5)
    sku = await make_sku(rt, merchant, price=1999, stock=30, safety_stock=10, title="Green tea")

    empty = await cart_of(client, merchant, member)
    assert empty["lines"] == [] and empty["problems"] == []
    assert empty["selected"]["payable"] == 0

    added = ok(await add(client, merchant, member, sku, 2), 201)
    assert set(added) == {"lines", "problems", "selected"}
    line = added["lines"][0]
    assert set(line) == {
        "id", "sku_id", "product_id", "title", "sku_label", "image", "unit_price", "quantity",
        "activity", "selected", "sellable", "on_shelf", "problems", "added_at",
    }  # fmt: skip
    assert (line["title"], line["sku_label"], line["unit_price"], line["quantity"]) == (
        "Green tea", "tin / 250g", 1999, 2,
    )  # fmt: skip
    assert (line["selected"], line["sellable"], line["on_shelf"], line["problems"]) == (
        True, 20, True, [],
    )  # fmt: skip
    priced = added["selected"]
    assert set(priced) == {
        "lines", "adjustments", "breakdown", "fulfillment", "fulfillment_options", "problems",
        "quantity", "items_total", "discount_total", "fees_total", "shipping_fee", "payable", "ok",
    }  # fmt: skip
    assert priced["adjustments"] == [
        {
            "source": "core.level",
            "label": "会员9.5折",
            "amount": -199,  # 5% of 3998, floored
            "stage": "promotion",
            "line_key": line["id"],
            "requested": None,
        }
    ]
    assert priced["lines"][0]["key"] == line["id"]
    assert (priced["items_total"], priced["discount_total"], priced["payable"]) == (3998, 199, 3799)
    assert priced["fulfillment_options"] == [
        {"method": "express", "label": "快递", "fee": 0, "available": True, "reason": ""}
    ]
    assert await cart_of(client, merchant, member) == added


async def test_adding_the_same_sku_again_adds_to_its_line(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant, member = await shop(client, rt)
    sku = await make_sku(rt, merchant)
    first = ok(await add(client, merchant, member, sku, 2), 201)
    line_id = first["lines"][0]["id"]
    await client.post(
        f"{merchant.store}/cart/select", json={"selected": False}, headers=member.auth
    )
    again = ok(await add(client, merchant, member, sku, 3), 201)
    assert [(x["id"], x["quantity"], x["selected"]) for x in again["lines"]] == [
        (line_id, 5, True)  # re-adding selects it again
    ]


async def test_concurrent_adds_of_one_sku_make_one_line(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant, member = await shop(client, rt)
    sku = await make_sku(rt, merchant)
    responses = await asyncio.gather(*(add(client, merchant, member, sku) for _ in range(8)))
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    cart = await cart_of(client, merchant, member)
    assert [x["quantity"] for x in cart["lines"]] == [8]


# ---- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"quantity": 0},
        {"quantity": -1},
        {"quantity": 10**9},
        {"quantity": 1.5},
        {"sku_id": None},
        {"unknown": 1},
        {"activity": "x" * 81},
    ],
)
async def test_malformed_lines_are_400(
    client: httpx.AsyncClient, rt: Runtime, body: dict[str, Any]
) -> None:
    merchant, member = await shop(client, rt)
    sku = await make_sku(rt, merchant)
    response = await client.post(
        f"{merchant.store}/cart/lines",
        json={"sku_id": sku, "quantity": 1, **body},
        headers=member.auth,
    )
    problem(response, 400, "request.invalid")
    assert (await cart_of(client, merchant, member))["lines"] == []


async def test_a_refused_line_saves_nothing(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant, member = await shop(client, rt)
    other, _ = await shop(client, rt)
    off = await make_sku(rt, merchant, on_shelf=False)
    guarded = await make_sku(rt, merchant, stock=10, safety_stock=7)  # 3 sellable
    plenty = await make_sku(rt, merchant, stock=5000)
    foreign = await make_sku(rt, other)

    problem(await add(client, merchant, member, off), 409, "cart.off_shelf")
    problem(await add(client, merchant, member, guarded, 4), 409, "cart.insufficient_stock")
    problem(await add(client, merchant, member, plenty, 1000), 422, "cart.limit_exceeded")
    problem(await add(client, merchant, member, foreign), 404, "cart.unknown_sku")
    problem(await add(client, merchant, member, "0" * 26), 404, "cart.unknown_sku")
    assert (await cart_of(client, merchant, member))["lines"] == []

    ok(await add(client, merchant, member, guarded, 3), 201)
    problem(await add(client, merchant, member, guarded, 1), 409, "cart.insufficient_stock")
    ok(await add(client, merchant, member, plenty, 600), 201)
    problem(await add(client, merchant, member, plenty, 600), 422, "cart.limit_exceeded")
    cart = await cart_of(client, merchant, member)
    assert sorted(x["quantity"] for x in cart["lines"]) == [3, 600]  # neither grew


async def test_activities_must_name_an_enabled_plugin(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant, member = await shop(client, rt, echo={"max_items": 2})
    sku = await make_sku(rt, merchant, price=1000)
    for activity in ("flashsale:7", "echo", "echo:", "core:1", ":x"):
        response = await add(client, merchant, member, sku, activity=activity)
        problem(response, 422, "cart.unknown_activity")
    problem(
        await add(client, merchant, member, sku, 3, activity="echo:a"), 422, "echo.limit_exceeded"
    )

    cart = ok(await add(client, merchant, member, sku, 2, activity="echo:a"), 201)
    ok(await add(client, merchant, member, sku, 1), 201)  # the plain line is another line
    cart = await cart_of(client, merchant, member)
    assert len(cart["lines"]) == 2
    echo_line = line_for(cart, sku, "echo:a")
    assert [a["label"] for a in cart["selected"]["adjustments"]] == ["ECHO价", "ECHO -1 yuan"]

    # The merchant switches echo off: the line stays, with a problem, and ECHO's price is gone.
    response = await client.post(
        f"{merchant.merchant}/plugins/echo/disable", json={}, headers=merchant.auth
    )
    assert response.status_code == 200, response.text
    cart = await cart_of(client, merchant, member)
    assert [p["code"] for p in line_for(cart, sku, "echo:a")["problems"]] == [
        "cart.activity_unavailable"
    ]
    assert cart["selected"]["adjustments"] == [] and cart["selected"]["ok"] is False
    problem(
        await add(client, merchant, member, sku, activity="echo:b"), 422, "cart.unknown_activity"
    )
    assert echo_line["id"] in {x["id"] for x in cart["lines"]}


async def test_a_cart_holds_at_most_100_lines(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant, member = await shop(client, rt)
    skus = [await make_sku(rt, merchant, price=100) for _ in range(101)]
    async with rt.db.tenant_session(merchant.id) as session:
        session.add_all(CartLine(member_id=member.id, sku_id=sku, quantity=1) for sku in skus[:100])
    problem(await add(client, merchant, member, skus[100]), 422, "cart.full")
    ok(await add(client, merchant, member, skus[0]), 201)  # adding to a line is still fine
    cart = await cart_of(client, merchant, member)
    assert len(cart["lines"]) == 100
    assert cart["selected"]["quantity"] == 101


# ---- changing lines ----------------------------------------------------------------------


async def test_patch_select_delete_and_clear(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant, member = await shop(client, rt)
    a = await make_sku(rt, merchant, price=1000, stock=5)
    b = await make_sku(rt, merchant, price=300)
    ok(await add(client, merchant, member, a, 2), 201)
    cart = ok(await add(client, merchant, member, b, 1), 201)
    line_a, line_b = line_for(cart, a)["id"], line_for(cart, b)["id"]
    url = f"{merchant.store}/cart/lines"

    cart = ok(await client.patch(f"{url}/{line_a}", json={"quantity": 5}, headers=member.auth))
    assert line_for(cart, a)["quantity"] == 5
    problem(
        await client.patch(f"{url}/{line_a}", json={"quantity": 6}, headers=member.auth),
        409,
        "cart.insufficient_stock",
    )
    problem(
        await client.patch(f"{url}/{line_a}", json={"quantity": 0}, headers=member.auth),
        400,
        "request.invalid",
    )
    # The stock drops below the line; lowering the quantity is allowed even while short.
    async with rt.db.tenant_session(merchant.id) as session:
        row = await session.get(Sku, (merchant.id, a))
        assert row is not None
        row.stock = 2
    cart = ok(await client.patch(f"{url}/{line_a}", json={"quantity": 3}, headers=member.auth))
    assert [p["code"] for p in line_for(cart, a)["problems"]] == ["cart.insufficient_stock"]
    assert cart["selected"]["ok"] is False

    cart = ok(await client.patch(f"{url}/{line_a}", json={"selected": False}, headers=member.auth))
    assert cart["selected"]["items_total"] == 300 and cart["selected"]["ok"] is True
    assert [p["code"] for p in cart["problems"]] == ["cart.insufficient_stock"]  # all lines

    select = f"{merchant.store}/cart/select"
    cart = ok(await client.post(select, json={"selected": True}, headers=member.auth))
    assert all(x["selected"] for x in cart["lines"])
    cart = ok(
        await client.post(
            select, json={"selected": False, "line_ids": [line_b]}, headers=member.auth
        )
    )
    assert {x["id"]: x["selected"] for x in cart["lines"]} == {line_a: True, line_b: False}

    cart = ok(await client.delete(f"{url}/{line_a}", headers=member.auth))
    assert [x["id"] for x in cart["lines"]] == [line_b]
    problem(await client.delete(f"{url}/{line_a}", headers=member.auth), 404, "cart.line_not_found")
    cart = ok(await client.delete(f"{merchant.store}/cart", headers=member.auth))
    assert cart["lines"] == []


async def test_another_members_lines_are_404(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant, member = await shop(client, rt)
    stranger = await make_member(rt, merchant, "stranger")
    sku = await make_sku(rt, merchant)
    line_id = ok(await add(client, merchant, member, sku), 201)["lines"][0]["id"]
    url = f"{merchant.store}/cart"
    attempts = [
        client.patch(f"{url}/lines/{line_id}", json={"quantity": 2}, headers=stranger.auth),
        client.delete(f"{url}/lines/{line_id}", headers=stranger.auth),
        client.post(
            f"{url}/select", json={"selected": False, "line_ids": [line_id]}, headers=stranger.auth
        ),
        client.post(f"{url}/preview", json={"line_ids": [line_id]}, headers=stranger.auth),
    ]
    for attempt in attempts:
        problem(await attempt, 404, "cart.line_not_found")
    assert (await cart_of(client, merchant, stranger))["lines"] == []
    ok(await client.delete(url, headers=stranger.auth))  # clears the stranger's cart only
    cart = await cart_of(client, merchant, member)
    assert [(x["id"], x["quantity"], x["selected"]) for x in cart["lines"]] == [(line_id, 1, True)]


async def test_tokens_are_per_store(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant, member = await shop(client, rt)
    other = await onboard(client)
    sku = await make_sku(rt, merchant)
    problem(await client.get(f"{other.store}/cart", headers=member.auth), 401, "auth.invalid_token")
    problem(await add(client, other, member, sku), 401, "auth.invalid_token")
    problem(await client.get(f"{merchant.store}/cart"), 401, "auth.required")
    problem(await client.post(f"{merchant.store}/cart/preview", json={}), 401, "auth.required")


# ---- preview -----------------------------------------------------------------------------


async def test_preview_prices_the_selected_lines_or_the_named_ones(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant, member = await shop(client, rt, echo={})
    await set_shipping(rt, merchant, 800, 5000)
    a = await make_sku(rt, merchant, price=3000)
    b = await make_sku(rt, merchant, price=2500)
    ok(await add(client, merchant, member, a), 201)
    cart = ok(await add(client, merchant, member, b), 201)
    line_a, line_b = line_for(cart, a)["id"], line_for(cart, b)["id"]
    url = f"{merchant.store}/cart/preview"

    whole = ok(await client.post(url, json={"fulfillment": "express"}, headers=member.auth))
    assert [x["key"] for x in whole["lines"]] == [line_b, line_a]  # newest first
    assert (whole["items_total"], whole["shipping_fee"], whole["payable"]) == (5500, 0, 5400)

    only_b = ok(
        await client.post(
            url, json={"fulfillment": "express", "line_ids": [line_b]}, headers=member.auth
        )
    )
    assert [x["key"] for x in only_b["lines"]] == [line_b]
    assert (only_b["items_total"], only_b["shipping_fee"], only_b["payable"]) == (2500, 800, 3200)
    assert only_b["breakdown"] == [
        {"source": "echo", "label": "ECHO -1 yuan", "stage": "promotion", "amount": -100},
        {"source": "core.shipping", "label": "运费", "stage": "fees", "amount": 800},
    ]

    huge = ok(
        await client.post(url, json={"options": {"echo_points": 10**12}}, headers=member.auth)
    )
    assert (huge["payable"], huge["discount_total"]) == (0, 5500)

    drone = ok(await client.post(url, json={"fulfillment": "drone"}, headers=member.auth))
    assert drone["ok"] is False
    assert [p["code"] for p in drone["problems"]] == ["cart.fulfillment_unavailable"]

    await client.post(
        f"{merchant.store}/cart/select", json={"selected": False}, headers=member.auth
    )
    problem(await client.post(url, json={}, headers=member.auth), 422, "cart.empty")
    problem(await client.post(url, json={"line_ids": []}, headers=member.auth), 422, "cart.empty")
    bodies: list[dict[str, Any]] = [
        {"fulfillment": "Bad Method"},
        {"options": []},
        {"line_ids": "x"},
    ]
    for body in bodies:
        problem(await client.post(url, json=body, headers=member.auth), 400, "request.invalid")
    ok(await client.post(url, json={"line_ids": [line_a]}, headers=member.auth))


async def test_echo_settings_reach_its_cart_hooks(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await onboard(client)
    response = await enable(client, merchant, "echo", {"max_items": 1})
    assert response.status_code == 200, response.text
    member = await make_member(rt, merchant)
    sku = await make_sku(rt, merchant)
    problem(
        await add(client, merchant, member, sku, 2, activity="echo:z"), 422, "echo.limit_exceeded"
    )
    ok(await add(client, merchant, member, sku, 1, activity="echo:z"), 201)
