"""Catalog, merchant side: categories and products CRUD with validation and exact codes,
the bulk shelf, the merchant list, and tenant walls on every id-taking route (merchant and
storefront). The storefront's own behaviour is in test_catalog_storefront.py."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from storeplug.testing import Merchant, onboard, staff_auth
from storeplug.testing import problem as assert_problem

PROBLEM = "application/problem+json"


def fields(response: httpx.Response) -> list[str]:
    return [error["field"] for error in response.json().get("errors", [])]


def sku(price: int = 1500, **extra: Any) -> dict[str, Any]:
    return {"price": price, **extra}


async def create_product(
    client: httpx.AsyncClient,
    m: Merchant,
    title: str = "拿铁咖啡",
    skus: list[dict[str, Any]] | None = None,
    status: str = "on",
    **extra: Any,
) -> dict[str, Any]:
    body = {"title": title, "status": status, "skus": skus or [sku()], **extra}
    response = await client.post(f"{m.merchant}/products", json=body, headers=m.auth)
    assert response.status_code == 201, response.text
    product: dict[str, Any] = response.json()
    return product


async def create_category(
    client: httpx.AsyncClient, m: Merchant, name: str, parent_id: str | None = None, sort: int = 0
) -> str:
    body = {"name": name, "parent_id": parent_id, "sort": sort}
    response = await client.post(f"{m.merchant}/categories", json=body, headers=m.auth)
    assert response.status_code == 201, response.text
    category_id: str = response.json()["id"]
    return category_id


async def walk(client: httpx.AsyncClient, url: str, limit: int = 2, **params: Any) -> list[str]:
    """Every page of a list, following next_cursor; fails on a repeated id."""
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        ids.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(ids) == len(set(ids)), f"a row came twice: {ids}"
    return ids


# ---- categories ----------------------------------------------------------------------------


async def test_category_tree_crud(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    url = f"{m.merchant}/categories"
    drinks = await create_category(client, m, "饮品", sort=2)
    food = await create_category(client, m, "食品", sort=1)
    coffee = await create_category(client, m, "咖啡", drinks, sort=5)
    tea = await create_category(client, m, "茶", drinks, sort=1)
    latte = await create_category(client, m, "拿铁", coffee)

    tree = (await client.get(f"{m.store}/categories")).json()
    assert [node["name"] for node in tree] == ["食品", "饮品"]
    assert [node["name"] for node in tree[1]["children"]] == ["茶", "咖啡"]
    assert tree[1]["children"][1]["children"][0]["id"] == latte
    assert tree[0]["children"] == []

    unknown = await client.post(url, json={"name": "x", "parent_id": "0" * 26}, headers=m.auth)
    assert_problem(unknown, 422, "catalog.unknown_parent")
    assert fields(unknown) == ["parent_id"]
    for parent in (drinks, coffee, latte):  # itself, and below itself
        cycle = await client.patch(f"{url}/{drinks}", json={"parent_id": parent}, headers=m.auth)
        assert_problem(cycle, 422, "catalog.category_cycle")
    blank = await client.post(url, json={"name": "   "}, headers=m.auth)
    assert_problem(blank, 400, "request.invalid")

    moved = await client.patch(
        f"{url}/{coffee}", json={"parent_id": food, "name": "咖啡豆"}, headers=m.auth
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["parent_id"] == food and moved.json()["name"] == "咖啡豆"
    top = await client.patch(f"{url}/{tea}", json={"parent_id": None}, headers=m.auth)
    assert top.json()["parent_id"] is None
    listed = (await client.get(url, headers=m.auth)).json()
    assert {c["id"] for c in listed} == {drinks, food, coffee, tea, latte}

    assert_problem(
        await client.delete(f"{url}/{coffee}", headers=m.auth), 409, "catalog.category_not_empty"
    )
    await create_product(client, m, category_id=latte)
    assert_problem(
        await client.delete(f"{url}/{latte}", headers=m.auth), 409, "catalog.category_not_empty"
    )
    assert (await client.delete(f"{url}/{drinks}", headers=m.auth)).status_code == 204
    gone = await client.get(f"{url}/{drinks}", headers=m.auth)
    assert_problem(gone, 404, "catalog.category_not_found")

    clerk = await staff_auth(client, m, "clerk")
    assert (await client.get(url, headers=clerk)).status_code == 200
    denied = await client.post(url, json={"name": "x"}, headers=clerk)
    assert_problem(denied, 403, "auth.role_required")


# ---- products ------------------------------------------------------------------------------


async def test_product_crud_keeps_min_price_and_opening_stock(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    product = await create_product(
        client,
        m,
        skus=[
            sku(1800, specs={"杯型": "大杯"}, stock=10, barcode="6901234567892"),
            sku(1500, specs={"杯型": "中杯"}, list_price=2000),
        ],
        images=["https://img.example.com/latte.jpg"],
        tags=["热销"],
    )
    assert product["min_price"] == 1500 and product["status"] == "on"
    big, mid = product["skus"]
    assert big["stock"] == 10 and big["active"] is True
    url = f"{m.merchant}/products/{product['id']}"
    ledger = await client.get(f"{m.merchant}/inventory/skus/{big['id']}/movements", headers=m.auth)
    [opening] = ledger.json()["items"]
    assert (opening["reason"], opening["delta"], opening["balance"]) == ("initial", 10, 10)

    patched = await client.patch(
        url,
        headers=m.auth,
        json={
            "title": "冰拿铁",
            "skus": [
                {"id": mid["id"], "active": False},
                {"id": big["id"], "price": 1700},
                {"specs": {"杯型": "超大杯"}, "price": 2100, "stock": 4},
            ],
        },
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["title"] == "冰拿铁" and body["min_price"] == 1700
    assert [s["active"] for s in body["skus"]] == [True, False, True]
    assert body["skus"][2]["stock"] == 4
    assert (await client.get(url, headers=m.auth)).json() == body

    cases = [
        ({"skus": [{"id": big["id"], "stock": 1}]}, 422, "catalog.stock_read_only"),
        ({"skus": [{"specs": {"杯型": "小杯"}}]}, 422, "catalog.sku_price_required"),
        ({"skus": [{"id": "0" * 26, "price": 1}]}, 404, "catalog.sku_not_found"),
        ({"skus": [{"id": big["id"], "list_price": 100}]}, 422, "catalog.list_price_below_price"),
        ({"skus": [{"id": mid["id"], "active": True, "specs": {"杯型": "大杯"}}]}, 422,
         "catalog.duplicate_specs"),
        ({"skus": [{"id": s["id"], "active": False} for s in body["skus"]]}, 409,
         "catalog.no_active_sku"),
        ({"category_id": "0" * 26}, 422, "catalog.unknown_category"),
    ]  # fmt: skip
    for patch, status, code in cases:
        assert_problem(await client.patch(url, json=patch, headers=m.auth), status, code)
    assert (await client.get(url, headers=m.auth)).json() == body, "refusals change nothing"

    assert (await client.delete(url, headers=m.auth)).status_code == 204
    assert_problem(await client.get(url, headers=m.auth), 404, "catalog.product_not_found")
    assert_problem(await client.delete(url, headers=m.auth), 404, "catalog.product_not_found")
    listed = (await client.get(f"{m.merchant}/products", headers=m.auth)).json()
    assert listed["items"] == []
    # A deleted product frees its barcodes.
    await create_product(client, m, skus=[sku(barcode="6901234567892")])


BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("title too long", {"title": "x" * 121}, "title"),
    ("blank title", {"title": "  "}, "title"),
    ("negative price", {"skus": [sku(-1)]}, "skus[0].price"),
    ("fractional fen", {"skus": [sku(1.5)]}, "skus[0].price"),  # type: ignore[arg-type]
    ("list below price", {"skus": [sku(1000, list_price=999)]}, "skus[0]"),
    ("ftp image", {"images": ["ftp://x.example/a.jpg"]}, "images[0]"),
    ("ten images", {"images": ["https://x.example/a.jpg"] * 10}, "images"),
    ("long spec", {"skus": [sku(specs={"颜色": "红" * 41})]}, "skus[0].specs"),
    ("spec not a string", {"skus": [sku(specs={"颜色": 1})]}, "skus[0].specs"),
    ("bad barcode", {"skus": [sku(barcode="12 34")]}, "skus[0].barcode"),
    ("negative stock", {"skus": [sku(stock=-1)]}, "skus[0].stock"),
    ("huge stock", {"skus": [sku(stock=10**9)]}, "skus[0].stock"),
    ("no SKUs", {"skus": []}, "skus"),
    ("bad status", {"status": "maybe"}, "status"),
    ("unknown field", {"colour": "red"}, "colour"),
    # PostgreSQL cannot store NUL; refused on both backends alike, before any query.
    ("NUL in title", {"title": "拿\x00铁"}, "title"),
    ("NUL in description", {"description": "a\x00"}, "description"),
    ("newline in a tag", {"tags": ["热销\n"]}, "tags[0]"),
    ("control char in a spec", {"skus": [sku(specs={"颜色": "红\x07"})]}, "skus[0].specs"),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
async def test_product_validation(
    client: httpx.AsyncClient, case: str, change: dict[str, Any], field: str
) -> None:
    m = await onboard(client)
    body = {"title": "拿铁", "skus": [sku()], **change}
    response = await client.post(f"{m.merchant}/products", json=body, headers=m.auth)
    assert_problem(response, 400, "request.invalid")
    assert any(f.startswith(field) for f in fields(response)), response.text


async def test_product_conflicts(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    url = f"{m.merchant}/products"
    await create_product(client, m, skus=[sku(barcode="BC-0001")])
    taken = await client.post(
        url, json={"title": "x", "skus": [sku(barcode="BC-0001")]}, headers=m.auth
    )
    assert_problem(taken, 409, "catalog.barcode_taken")
    assert fields(taken) == ["skus[0].barcode"]
    twice = await client.post(
        url,
        json={"title": "x", "skus": [sku(barcode="BC-2", specs={"a": "1"}), sku(barcode="BC-2")]},
        headers=m.auth,
    )
    assert_problem(twice, 409, "catalog.barcode_taken")
    same_specs = await client.post(
        url, json={"title": "x", "skus": [sku(specs={"a": "1"}), sku(specs={"a": "1"})]},
        headers=m.auth,
    )  # fmt: skip
    assert_problem(same_specs, 422, "catalog.duplicate_specs")
    unknown = await client.post(
        url, json={"title": "x", "category_id": "0" * 26, "skus": [sku()]}, headers=m.auth
    )
    assert_problem(unknown, 422, "catalog.unknown_category")
    assert fields(unknown) == ["category_id"]

    # Racing creates both pass the pre-check on PostgreSQL; the unique constraint decides.
    racing = await asyncio.gather(
        *(
            client.post(url, json={"title": f"r{i}", "skus": [sku(barcode="RACE-1")]},
                        headers=m.auth)
            for i in range(4)
        )
    )  # fmt: skip
    assert sorted(r.status_code for r in racing) == [201, 409, 409, 409], [r.text for r in racing]
    for response in racing:
        if response.status_code == 409:
            assert_problem(response, 409, "catalog.barcode_taken")

    clerk = await staff_auth(client, m, "clerk")
    assert (await client.get(url, headers=clerk)).status_code == 200
    denied = await client.post(url, json={"title": "x", "skus": [sku()]}, headers=clerk)
    assert_problem(denied, 403, "auth.role_required")


async def test_bulk_shelf_is_all_or_nothing(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    ids = [(await create_product(client, m, f"p{i}", status="off"))["id"] for i in range(3)]
    url = f"{m.merchant}/products/shelf"
    missing = await client.post(
        url, json={"product_ids": [ids[0], "0" * 26], "status": "on"}, headers=m.auth
    )
    assert_problem(missing, 404, "catalog.product_not_found")
    assert fields(missing) == ["product_ids[1]"]
    on = await client.get(f"{m.merchant}/products", params={"status": "on"}, headers=m.auth)
    assert on.json()["items"] == [], "nothing changed"

    done = await client.post(url, json={"product_ids": ids, "status": "on"}, headers=m.auth)
    assert done.status_code == 200, done.text
    assert set(await walk(client, f"{m.store}/products")) == set(ids)

    empty = await create_product(client, m, "empty", status="off")
    await client.patch(
        f"{m.merchant}/products/{empty['id']}",
        json={"skus": [{"id": empty["skus"][0]["id"], "active": False}]},
        headers=m.auth,
    )
    refused = await client.post(
        url, json={"product_ids": [ids[0], empty["id"]], "status": "on"}, headers=m.auth
    )
    assert_problem(refused, 409, "catalog.no_active_sku")
    assert fields(refused) == ["product_ids[1]"]
    off = await client.post(url, json={"product_ids": ids[:2], "status": "off"}, headers=m.auth)
    assert off.status_code == 200
    assert await walk(client, f"{m.store}/products") == [ids[2]]


async def test_merchant_list_filters(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    drinks = await create_category(client, m, "饮品")
    coffee = await create_category(client, m, "咖啡", drinks)
    a = await create_product(client, m, "拿铁", category_id=coffee)
    b = await create_product(client, m, "柠檬茶", category_id=drinks, status="off")
    c = await create_product(client, m, "面包")
    url = f"{m.merchant}/products"

    async def ids(**params: Any) -> list[str]:
        response = await client.get(url, params=params, headers=m.auth)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [c["id"], b["id"], a["id"]]  # newest first
    assert await ids(status="off") == [b["id"]]
    assert await ids(category_id=drinks) == [b["id"], a["id"]]  # with subcategories
    assert await ids(category_id=coffee) == [a["id"]]
    assert await ids(keyword="茶") == [b["id"]]
    first = (await client.get(url, params={"limit": 2}, headers=m.auth)).json()
    assert [i["id"] for i in first["items"]] == [c["id"], b["id"]]
    assert first["items"][0]["sku_count"] == 1 and first["items"][0]["min_price"] == 1500
    rest = await client.get(url, params={"limit": 2, "cursor": first["next_cursor"]},
                            headers=m.auth)  # fmt: skip
    assert [i["id"] for i in rest.json()["items"]] == [a["id"]]
    assert rest.json()["next_cursor"] is None
    unknown = await client.get(url, params={"category_id": "0" * 26}, headers=m.auth)
    assert_problem(unknown, 404, "catalog.category_not_found")
    assert_problem(await client.get(url, params={"limit": 10_000}, headers=m.auth), 400,
                   "request.invalid")  # fmt: skip


# ---- tenant walls --------------------------------------------------------------------------


async def test_other_tenants_ids_are_not_found(client: httpx.AsyncClient) -> None:
    a = await onboard(client)
    b = await onboard(client)
    category = await create_category(client, a, "饮品")
    product = await create_product(client, a, category_id=category,
                                   skus=[sku(barcode="WALL-0001")])  # fmt: skip
    pid = product["id"]
    calls = [
        ("GET", f"categories/{category}", None, "catalog.category_not_found"),
        ("PATCH", f"categories/{category}", {"name": "x"}, "catalog.category_not_found"),
        ("DELETE", f"categories/{category}", None, "catalog.category_not_found"),
        ("GET", f"products/{pid}", None, "catalog.product_not_found"),
        ("PATCH", f"products/{pid}", {"title": "x"}, "catalog.product_not_found"),
        ("DELETE", f"products/{pid}", None, "catalog.product_not_found"),
        ("POST", "products/shelf", {"product_ids": [pid], "status": "off"},
         "catalog.product_not_found"),
    ]  # fmt: skip
    for method, path, body, code in calls:
        response = await client.request(method, f"{b.merchant}/{path}", json=body, headers=b.auth)
        assert_problem(response, 404, code)
    listed = await client.get(f"{b.merchant}/products", params={"category_id": category},
                              headers=b.auth)  # fmt: skip
    assert_problem(listed, 404, "catalog.category_not_found")
    borrowed = await client.post(
        f"{b.merchant}/products",
        json={"title": "x", "category_id": category, "skus": [sku()]},
        headers=b.auth,
    )
    assert_problem(borrowed, 422, "catalog.unknown_category")
    adopted = await client.post(
        f"{b.merchant}/categories", json={"name": "x", "parent_id": category}, headers=b.auth
    )
    assert_problem(adopted, 422, "catalog.unknown_parent")

    for path in (f"products/{pid}", "products/by-barcode/WALL-0001"):
        assert_problem(await client.get(f"{b.store}/{path}"), 404, "catalog.product_not_found")
    assert_problem(
        await client.get(f"{b.store}/products", params={"category_id": category}),
        404,
        "catalog.category_not_found",
    )
    assert await walk(client, f"{b.store}/products") == []
    # The same barcode is free in another store.
    await create_product(client, b, skus=[sku(barcode="WALL-0001")])
    assert (await client.get(f"{a.store}/products/{pid}")).status_code == 200
