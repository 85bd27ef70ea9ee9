"""Catalog, storefront side: sorts walked page by page (keyset cursors), keyword search,
category filters, stock states, shelf visibility, barcode scans, and plugin decorations
(load_catalog_data then catalog_decorations)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import update

from core.catalog.models import Product
from core.idempotency import HEADER
from core.runtime import Runtime
from storeplug.testing import enable, onboard
from storeplug.testing import problem as assert_problem
from tests.commerce.test_catalog import create_category, create_product, sku, walk


async def test_storefront_sorts_walk_every_page(client: httpx.AsyncClient, rt: Runtime) -> None:
    m = await onboard(client)
    # (price, sales, sort): ties in each key, so the id must break them.
    specs = [(900, 5, 1), (1500, 50, 0), (900, 7, 1), (3000, 0, 2), (1500, 50, 0), (100, 9, 3),
             (2500, 1, 0)]  # fmt: skip
    made = []
    for i, (price, sales, sort) in enumerate(specs):
        product = await create_product(client, m, f"商品{i}", skus=[sku(price)], sort=sort)
        made.append({"id": product["id"], "price": price, "sales": sales, "sort": sort})
    await create_product(client, m, "下架商品", status="off")
    async with rt.db.tenant_session(m.id) as session:
        for row in made:
            await session.execute(
                update(Product).where(Product.id == row["id"]).values(sales=row["sales"])
            )

    def by(key: Any) -> list[str]:
        ordered = sorted(made, key=lambda r: r["id"], reverse=True)  # stable sorts: id desc ties
        return [r["id"] for r in sorted(ordered, key=key)]

    expected = {
        "default": by(lambda r: r["sort"]),
        "sales": by(lambda r: -r["sales"]),
        "price_asc": by(lambda r: r["price"]),
        "price_desc": by(lambda r: -r["price"]),
        "new": by(lambda r: 0),
    }
    url = f"{m.store}/products"
    for order, ids in expected.items():
        for limit in (1, 2, 3, 100):
            assert await walk(client, url, limit=limit, sort=order) == ids, (order, limit)
    page = (await client.get(url, params={"sort": "price_asc", "limit": 2})).json()
    first = page["items"][0]
    assert first["min_price"] == 100 and first["stock_state"] == "sold_out"
    assert "stock" not in first

    # A cursor belongs to its sort; anything forged is a 400, never a database error.
    other = await client.get(url, params={"sort": "sales", "cursor": page["next_cursor"]})
    assert_problem(other, 400, "request.invalid_cursor")
    for forged in ("!!!", "WyJzYWxlcyIsIngiLCJ5Il0", "WyJzYWxlcyIsOTk5OTk5OTk5OTk5LCJBIl0"):
        bad = await client.get(url, params={"sort": "sales", "cursor": forged})
        assert_problem(bad, 400, "request.invalid_cursor")
    assert_problem(await client.get(url, params={"limit": 101}), 400, "request.invalid")
    assert_problem(await client.get(url, params={"sort": "random"}), 400, "request.invalid")


async def test_keyword_search(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    titles = ["冰拿铁", "拿铁咖啡", "美式咖啡", "100% 果汁", "1000 果汁", "Latte_Art", "LatteXArt"]
    ids = {t: (await create_product(client, m, t))["id"] for t in titles}
    await create_product(client, m, "下架拿铁", status="off")

    async def found(keyword: str) -> set[str]:
        return set(await walk(client, f"{m.store}/products", limit=100, keyword=keyword))

    assert await found("拿铁") == {ids["冰拿铁"], ids["拿铁咖啡"]}
    assert await found("咖啡") == {ids["拿铁咖啡"], ids["美式咖啡"]}
    assert await found("100%") == {ids["100% 果汁"]}  # % is a character, not a wildcard
    assert await found("%") == {ids["100% 果汁"]}
    assert await found("e_A") == {ids["Latte_Art"]}  # and so is _
    assert await found("latte") == {ids["Latte_Art"], ids["LatteXArt"]}  # ASCII case folds
    assert await found("  拿铁 ") == {ids["冰拿铁"], ids["拿铁咖啡"]}
    assert await found("\\") == set()
    assert await found("不存在") == set()
    long = await client.get(f"{m.store}/products", params={"keyword": "x" * 51})
    assert_problem(long, 400, "request.invalid")
    nul = await client.get(f"{m.store}/products", params={"keyword": "拿\x00铁"})
    assert_problem(nul, 400, "request.invalid")
    for path in ("products/a%00b", "products/by-barcode/69%0001"):
        assert_problem(await client.get(f"{m.store}/{path}"), 400, "request.invalid")
    garbage = await client.get(f"{m.store}/products", params={"category_id": "a\x00"})
    assert_problem(garbage, 400, "request.invalid")


async def test_category_filter_covers_subcategories(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    drinks = await create_category(client, m, "饮品")
    coffee = await create_category(client, m, "咖啡", drinks)
    tea = await create_category(client, m, "茶", drinks)
    latte = (await create_product(client, m, "拿铁", category_id=coffee))["id"]
    green = (await create_product(client, m, "绿茶", category_id=tea))["id"]
    cola = (await create_product(client, m, "可乐", category_id=drinks))["id"]
    await create_product(client, m, "面包")
    url = f"{m.store}/products"
    assert set(await walk(client, url, category_id=drinks)) == {latte, green, cola}
    assert await walk(client, url, category_id=tea) == [green]
    assert await walk(client, url, category_id=coffee, keyword="绿") == []
    unknown = await client.get(url, params={"category_id": "0" * 26})
    assert_problem(unknown, 404, "catalog.category_not_found")


async def test_detail_stock_states_and_shelf_visibility(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    product = await create_product(
        client,
        m,
        skus=[
            sku(1000, specs={"杯": "大"}, stock=100, barcode="690000000001"),
            sku(900, specs={"杯": "中"}, stock=8, safety_stock=4),
            sku(800, specs={"杯": "小"}, stock=5, safety_stock=5, barcode="690000000003"),
            sku(700, specs={"杯": "迷你"}, stock=50, barcode="690000000004"),
        ],
    )
    mini = product["skus"][3]["id"]
    await client.patch(
        f"{m.merchant}/products/{product['id']}",
        json={"skus": [{"id": mini, "active": False}]},
        headers=m.auth,
    )
    detail = await client.get(f"{m.store}/products/{product['id']}")
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert [s["stock_state"] for s in body["skus"]] == ["in_stock", "low", "sold_out"]
    assert body["stock_state"] == "in_stock" and body["min_price"] == 800
    assert all("stock" not in s and "safety_stock" not in s for s in body["skus"])
    assert "barcode" not in body["skus"][0]

    scan = await client.get(f"{m.store}/products/by-barcode/690000000003")
    assert scan.status_code == 200, scan.text
    assert scan.json()["sku_id"] == product["skus"][2]["id"]
    assert scan.json()["product"]["id"] == product["id"]
    inactive = await client.get(f"{m.store}/products/by-barcode/690000000004")
    assert_problem(inactive, 404, "catalog.product_not_found")

    await client.post(
        f"{m.merchant}/products/shelf",
        json={"product_ids": [product["id"]], "status": "off"},
        headers=m.auth,
    )
    assert await walk(client, f"{m.store}/products") == []
    hidden = await client.get(f"{m.store}/products/{product['id']}")
    assert_problem(hidden, 404, "catalog.product_not_found")
    scan = await client.get(f"{m.store}/products/by-barcode/690000000001")
    assert_problem(scan, 404, "catalog.product_not_found")
    # The merchant still sees it.
    assert (await client.get(f"{m.merchant}/products/{product['id']}", headers=m.auth)).is_success


async def test_plugin_decorations_reach_the_storefront(client: httpx.AsyncClient) -> None:
    """load_catalog_data then catalog_decorations, on the tenant's enabled plugins only: the
    echo test plugin loads its charge count and badges every product "ECHO"."""
    m = await onboard(client)
    plain = await onboard(client)
    assert (await enable(client, m, "echo")).status_code == 200
    product = await create_product(client, m, skus=[sku(1000, barcode="ECHO-1")])
    other = await create_product(client, plain)

    listed = (await client.get(f"{m.store}/products")).json()["items"]
    assert listed[0]["badges"] == ["ECHO"]
    assert listed[0]["decorations"] == [
        {"source": "echo", "badge": "ECHO", "activity_price": 500, "activity": "echo:0"}
    ]
    charged = await client.post(
        f"{m.merchant}/echo/charges", json={"amount": 1}, headers={**m.auth, HEADER: "c-1"}
    )
    assert charged.status_code == 201, charged.text
    detail = (await client.get(f"{m.store}/products/{product['id']}")).json()
    assert detail["decorations"][0]["activity"] == "echo:1", "loaded in the tenant's session"
    scan = (await client.get(f"{m.store}/products/by-barcode/ECHO-1")).json()
    assert scan["product"]["badges"] == ["ECHO"]

    undecorated = (await client.get(f"{plain.store}/products/{other['id']}")).json()
    assert undecorated["badges"] == [] and undecorated["decorations"] == []
