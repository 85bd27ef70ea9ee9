"""Inventory: manual set/adjust with a ledger, safety stock and the low-stock list, the
ERP/POS sync (idempotent, all or nothing), tenant walls, and the conditional decrement
under 30 concurrent buyers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.catalog.models import Sku
from core.idempotency import HEADER
from core.inventory.models import StockMovement
from core.inventory.service import InsufficientStock, reserve
from core.runtime import Runtime
from storeplug.testing import Merchant, onboard, staff_auth
from storeplug.testing import problem as assert_problem
from tests.commerce.test_catalog import create_product, fields, sku


async def stock_of(client: httpx.AsyncClient, m: Merchant, sku_id: str) -> dict[str, Any]:
    response = await client.get(f"{m.merchant}/inventory/skus/{sku_id}", headers=m.auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def ledger(client: httpx.AsyncClient, m: Merchant, sku_id: str) -> list[dict[str, Any]]:
    url = f"{m.merchant}/inventory/skus/{sku_id}/movements"
    response = await client.get(url, params={"limit": 100}, headers=m.auth)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_set_adjust_and_the_ledger(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    sku_id = (await create_product(client, m, skus=[sku(stock=10)]))["skus"][0]["id"]
    url = f"{m.merchant}/inventory/skus/{sku_id}"

    put = await client.put(f"{url}/stock", json={"stock": 25, "note": "盘点"}, headers=m.auth)
    assert put.status_code == 200, put.text
    assert put.json()["stock"] == 25 and put.json()["sellable"] == 25
    same = await client.put(f"{url}/stock", json={"stock": 25}, headers=m.auth)
    assert same.status_code == 200  # no change, no ledger row
    taken = await client.post(f"{url}/adjust", json={"delta": -5}, headers=m.auth)
    assert taken.status_code == 200, taken.text
    assert taken.json()["stock"] == 20
    too_many = await client.post(f"{url}/adjust", json={"delta": -21}, headers=m.auth)
    assert_problem(too_many, 409, "inventory.insufficient_stock")
    zero = await client.post(f"{url}/adjust", json={"delta": 0}, headers=m.auth)
    assert_problem(zero, 400, "inventory.invalid_quantity")
    negative = await client.put(f"{url}/stock", json={"stock": -1}, headers=m.auth)
    assert_problem(negative, 400, "request.invalid")
    nul = await client.put(f"{url}/stock", json={"stock": 1, "note": "a\x00"}, headers=m.auth)
    assert_problem(nul, 400, "request.invalid")
    bad_id = await client.get(f"{m.merchant}/inventory/skus/a%00b", headers=m.auth)
    assert_problem(bad_id, 400, "request.invalid")
    assert (await stock_of(client, m, sku_id))["stock"] == 20

    rows = await ledger(client, m, sku_id)
    assert [(r["reason"], r["delta"], r["balance"]) for r in rows] == [
        ("manual", -5, 20),
        ("manual", 15, 25),
        ("initial", 10, 10),
    ]
    assert rows[1]["ref"].startswith("staff:") and rows[1]["ref"].endswith(" 盘点")

    first = await client.get(f"{url}/movements", params={"limit": 2}, headers=m.auth)
    page = first.json()
    assert [r["id"] for r in page["items"]] == [rows[0]["id"], rows[1]["id"]]
    rest = await client.get(
        f"{url}/movements", params={"limit": 2, "cursor": page["next_cursor"]}, headers=m.auth
    )
    assert [r["id"] for r in rest.json()["items"]] == [rows[2]["id"]]
    assert rest.json()["next_cursor"] is None

    clerk = await staff_auth(client, m, "clerk")
    assert (await client.get(f"{url}/movements", headers=clerk)).status_code == 200
    denied = await client.put(f"{url}/stock", json={"stock": 1}, headers=clerk)
    assert_problem(denied, 403, "auth.role_required")


async def test_safety_stock_and_low_stock(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    product = await create_product(
        client,
        m,
        skus=[
            sku(specs={"n": "empty"}, stock=0),
            sku(specs={"n": "three"}, stock=3, safety_stock=2),
            sku(specs={"n": "plenty"}, stock=50),
            sku(specs={"n": "retired"}, stock=0),
        ],
    )
    empty, three, plenty, retired = (s["id"] for s in product["skus"])
    await client.patch(
        f"{m.merchant}/products/{product['id']}",
        json={"skus": [{"id": retired, "active": False}]},
        headers=m.auth,
    )
    deleted = await create_product(client, m, "gone", skus=[sku(stock=0)])
    await client.delete(f"{m.merchant}/products/{deleted['id']}", headers=m.auth)
    url = f"{m.merchant}/inventory/low-stock"

    async def low(**params: Any) -> list[str]:
        response = await client.get(url, params=params, headers=m.auth)
        assert response.status_code == 200, response.text
        return [item["sku_id"] for item in response.json()["items"]]

    assert await low() == [empty]
    assert await low(threshold=1) == [empty, three]
    response = await client.put(
        f"{m.merchant}/inventory/skus/{plenty}/safety-stock",
        json={"safety_stock": 50},
        headers=m.auth,
    )
    assert response.status_code == 200, response.text
    assert response.json()["sellable"] == 0
    assert await low() == [empty, plenty]
    page = (await client.get(url, params={"limit": 1}, headers=m.auth)).json()
    assert [i["sku_id"] for i in page["items"]] == [empty]
    assert page["items"][0]["title"] == "拿铁咖啡"
    rest = await client.get(url, params={"limit": 1, "cursor": page["next_cursor"]},
                            headers=m.auth)  # fmt: skip
    assert [i["sku_id"] for i in rest.json()["items"]] == [plenty]
    assert_problem(await client.get(url, params={"threshold": -1}, headers=m.auth), 400,
                   "request.invalid")  # fmt: skip
    # With threshold 0 the list is what the storefront shows as sold out.
    detail = (await client.get(f"{m.store}/products/{product['id']}")).json()
    assert [s["stock_state"] for s in detail["skus"]] == ["sold_out", "low", "sold_out"]


# ---- ERP / POS sync ------------------------------------------------------------------------


async def sync(
    client: httpx.AsyncClient, m: Merchant, body: dict[str, Any], key: str | None
) -> httpx.Response:
    headers = {**m.auth, **({HEADER: key} if key else {})}
    return await client.post(f"{m.merchant}/inventory/sync", json=body, headers=headers)


async def test_sync_applies_once(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    product = await create_product(
        client,
        m,
        skus=[
            sku(specs={"n": "a"}, stock=5, barcode="6900000000011"),
            sku(specs={"n": "b"}, stock=7),
        ],
    )
    a, b = (s["id"] for s in product["skus"])
    absolute = {
        "mode": "absolute",
        "lines": [{"barcode": "6900000000011", "quantity": 40}, {"sku_id": b, "quantity": 7}],
    }
    done = await sync(client, m, absolute, "erp-batch-1")
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["changed"] == 1
    assert body["lines"] == [
        {"index": 0, "sku_id": a, "barcode": "6900000000011", "previous": 5, "stock": 40},
        {"index": 1, "sku_id": b, "barcode": None, "previous": 7, "stock": 7},
    ]
    [newest, _] = await ledger(client, m, a)
    assert (newest["reason"], newest["delta"], newest["ref"]) == ("erp_set", 35, "erp-batch-1")
    assert len(await ledger(client, m, b)) == 1, "an unchanged line writes no movement"

    delta = {
        "mode": "delta",
        "lines": [{"sku_id": a, "quantity": -10}, {"sku_id": b, "quantity": 3}],
    }
    first = await sync(client, m, delta, "erp-batch-2")
    replay = await sync(client, m, delta, "erp-batch-2")
    assert first.status_code == replay.status_code == 200, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert (await stock_of(client, m, a))["stock"] == 30, "applied once"
    assert (await stock_of(client, m, b))["stock"] == 10
    rows = await ledger(client, m, a)
    assert [(r["reason"], r["delta"], r["ref"]) for r in rows[:1]] == [
        ("erp_delta", -10, "erp-batch-2")
    ]
    assert len(rows) == 3

    other = {"mode": "delta", "lines": [{"sku_id": a, "quantity": 1}]}
    assert_problem(await sync(client, m, other, "erp-batch-2"), 422, "idempotency.key_reused")
    assert_problem(await sync(client, m, other, None), 400, "idempotency.key_required")
    clerk = await staff_auth(client, m, "clerk")
    denied = await client.post(
        f"{m.merchant}/inventory/sync", json=other, headers={**clerk, HEADER: "k"}
    )
    assert_problem(denied, 403, "auth.role_required")


async def test_sync_with_one_bad_line_applies_nothing(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    stranger = await onboard(client)
    theirs = (await create_product(client, stranger))["skus"][0]["id"]
    product = await create_product(
        client,
        m,
        skus=[
            sku(specs={"n": "a"}, stock=5, barcode="6900000000028"),
            sku(specs={"n": "b"}, stock=2),
        ],
    )
    a, b = (s["id"] for s in product["skus"])
    before = {sku_id: await ledger(client, m, sku_id) for sku_id in (a, b)}

    absolute = {
        "mode": "absolute",
        "lines": [
            {"sku_id": a, "quantity": 99},  # fine on its own
            {"barcode": "0000-unknown", "quantity": 1},
            {"sku_id": theirs, "quantity": 1},  # another store's SKU
            {"sku_id": b, "quantity": -1},
            {"barcode": "6900000000028", "quantity": 3},  # the same SKU as line 0
            {"sku_id": b, "barcode": "6900000000028", "quantity": 3},
            {"quantity": 3},
        ],
    }
    rejected = await sync(client, m, absolute, "bad-1")
    assert_problem(rejected, 422, "inventory.sync_rejected")
    assert fields(rejected) == [f"lines[{i}]" for i in range(1, 7)]
    messages = [error["message"] for error in rejected.json()["errors"]]
    assert messages[:4] == [
        "no SKU has this barcode",
        "no such SKU",
        "stock cannot be negative",
        "the same SKU as lines[0]",
    ]
    delta = {
        "mode": "delta",
        "lines": [{"sku_id": a, "quantity": 4}, {"sku_id": b, "quantity": -3}],
    }
    below = await sync(client, m, delta, "bad-2")
    assert_problem(below, 422, "inventory.sync_rejected")
    assert fields(below) == ["lines[1]"]

    assert (await stock_of(client, m, a))["stock"] == 5
    assert (await stock_of(client, m, b))["stock"] == 2
    assert {sku_id: await ledger(client, m, sku_id) for sku_id in (a, b)} == before
    # A rejected batch releases its key: fixed, the same key goes through.
    fixed = {"mode": "delta", "lines": [{"sku_id": a, "quantity": 4}]}
    assert (await sync(client, m, fixed, "bad-2")).status_code == 200

    nul = {"mode": "absolute", "lines": [{"barcode": "69\x00", "quantity": 1}]}
    assert_problem(await sync(client, m, nul, "nul"), 400, "request.invalid")
    too_long = {"mode": "absolute", "lines": [{"sku_id": a, "quantity": 1}] * 501}
    assert_problem(await sync(client, m, too_long, "big"), 400, "request.invalid")
    assert_problem(await sync(client, m, {"mode": "set", "lines": []}, "m"), 400,
                   "request.invalid")  # fmt: skip


async def test_other_tenants_skus_are_not_found(client: httpx.AsyncClient) -> None:
    a = await onboard(client)
    b = await onboard(client)
    sku_id = (await create_product(client, a, skus=[sku(stock=3)]))["skus"][0]["id"]
    base = f"{b.merchant}/inventory/skus/{sku_id}"
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", base, None),
        ("PUT", f"{base}/stock", {"stock": 1}),
        ("POST", f"{base}/adjust", {"delta": 1}),
        ("PUT", f"{base}/safety-stock", {"safety_stock": 1}),
        ("GET", f"{base}/movements", None),
    ]
    for method, url, body in calls:
        response = await client.request(method, url, json=body, headers=b.auth)
        assert_problem(response, 404, "inventory.unknown_sku")
    assert (await stock_of(client, a, sku_id))["stock"] == 3
    low = await client.get(f"{b.merchant}/inventory/low-stock",
                           params={"threshold": 100}, headers=b.auth)  # fmt: skip
    assert low.json()["items"] == []


# ---- the conditional decrement under concurrency -------------------------------------------


@pytest.mark.parametrize(("stock", "safety"), [(10, 0), (13, 3)])
async def test_concurrent_reserves_never_oversell(
    client: httpx.AsyncClient, rt: Runtime, stock: int, safety: int
) -> None:
    """30 buyers, each in a transaction of its own, race for 10 sellable units."""
    m = await onboard(client)
    product = await create_product(client, m, skus=[sku(stock=stock, safety_stock=safety)])
    sku_id = product["skus"][0]["id"]
    info = await rt.tenants.resolve(m.slug)

    async def buy(n: int) -> int:
        async with rt.tenant_context(info) as ctx:
            return await reserve(ctx, sku_id, 1, ref=f"order-{n}")

    results = await asyncio.gather(*(buy(n) for n in range(30)), return_exceptions=True)
    balances = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, InsufficientStock)]
    assert len(balances) == 10 and len(refused) == 20, results
    assert sorted(balances) == list(range(safety, stock)), "each buyer got a unit of its own"

    async with rt.tenant_context(info) as ctx:
        left, kept = (
            await ctx.session.execute(select(Sku.stock, Sku.safety_stock).where(Sku.id == sku_id))
        ).one()
        assert (left, kept) == (safety, safety), "sold down to the safety stock, never below"
        reserves = await ctx.session.scalar(
            select(func.count())
            .select_from(StockMovement)
            .where(StockMovement.sku_id == sku_id, StockMovement.reason == "order_reserve")
        )
        assert reserves == 10
