"""The whole commerce core over real HTTP, as a vendor, a merchant and a mini-program would
use it: onboard → catalog with SKUs and stock → WeChat login through the fake server →
browse and search → cart → preview → order → cancel → the stock is back."""

from __future__ import annotations

import secrets

import httpx

from storeplug.testing import onboard
from storeplug.testing.fakes.wechat import FakeWeChat, connect_store, wx_login


async def test_shop_from_login_to_cancel(
    client: httpx.AsyncClient, fake_wechat: FakeWeChat
) -> None:
    merchant = await onboard(client)
    app = await connect_store(client, merchant, fake_wechat)
    m, auth = merchant.merchant, merchant.auth

    # The merchant sets up shipping, a category and a product with two SKUs.
    settings = await client.put(
        f"{m}/settings/store",
        json={"shipping_fee": 800, "free_shipping_threshold": 9900},
        headers=auth,
    )
    assert settings.status_code == 200, settings.text
    category = await client.post(f"{m}/categories/", json={"name": "咖啡"}, headers=auth)
    assert category.status_code == 201, category.text
    product = await client.post(
        f"{m}/products/",
        json={
            "title": "燕麦拿铁",
            "category_id": category.json()["id"],
            "status": "on",
            "images": ["https://cdn.example.com/latte.jpg"],
            "skus": [
                {"specs": {"杯型": "中杯"}, "price": 2800, "stock": 5, "barcode": "6901234567892"},
                {"specs": {"杯型": "大杯"}, "price": 3200, "stock": 3},
            ],
        },
        headers=auth,
    )
    assert product.status_code == 201, product.text
    product_id = product.json()["id"]
    medium = next(s for s in product.json()["skus"] if s["specs"] == {"杯型": "中杯"})

    # A buyer opens the mini-program and signs in with a wx.login code.
    buyer = await wx_login(client, merchant, app)
    s = merchant.store

    # Browsing and search are public.
    tree = (await client.get(f"{s}/categories")).json()
    assert [node["name"] for node in tree] == ["咖啡"]
    listed = (await client.get(f"{s}/products", params={"keyword": "拿铁"})).json()
    assert [p["id"] for p in listed["items"]] == [product_id]
    assert (await client.get(f"{s}/products", params={"keyword": "抹茶"})).json()["items"] == []
    detail = (await client.get(f"{s}/products/{product_id}")).json()
    assert {sku["id"] for sku in detail["skus"]} >= {medium["id"]}
    scanned = await client.get(f"{s}/products/by-barcode/6901234567892")
    assert scanned.json()["product"]["id"] == product_id
    assert scanned.json()["sku_id"] == medium["id"]

    # Cart: two medium lattes, then a preview with express delivery.
    added = await client.post(
        f"{s}/cart/lines", json={"sku_id": medium["id"], "quantity": 2}, headers=buyer.auth
    )
    assert added.status_code == 201, added.text
    address = await client.post(
        f"{s}/me/addresses",
        json={
            "name": "李雷",
            "phone": "13800138000",
            "province": "上海市",
            "city": "上海市",
            "district": "徐汇区",
            "detail": "漕溪北路 1 号",
        },
        headers=buyer.auth,
    )
    assert address.status_code == 201, address.text
    preview = await client.post(
        f"{s}/cart/preview", json={"fulfillment": "express"}, headers=buyer.auth
    )
    assert preview.status_code == 200, preview.text
    priced = preview.json()
    assert priced["items_total"] == 5600
    assert priced["shipping_fee"] == 800  # below the 99-yuan free-shipping threshold
    assert priced["payable"] == 6400

    # Place the order from the cart; the two units are reserved.
    placed = await client.post(
        f"{s}/orders",
        json={
            "from_cart": True,
            "fulfillment": "express",
            "fulfillment_data": {"address_id": address.json()["id"]},
        },
        headers={**buyer.auth, "Idempotency-Key": secrets.token_hex(8)},
    )
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "pending_payment"
    assert order["payable"] == 6400
    stock = await client.get(f"{m}/inventory/skus/{medium['id']}", headers=auth)
    assert stock.json()["stock"] == 3
    assert (await client.get(f"{s}/cart", headers=buyer.auth)).json()["lines"] == []

    # The buyer cancels; the stock comes back and the ledger shows both movements.
    cancelled = await client.post(f"{s}/orders/{order['id']}/cancel", json={}, headers=buyer.auth)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    stock = await client.get(f"{m}/inventory/skus/{medium['id']}", headers=auth)
    assert stock.json()["stock"] == 5
    movements = await client.get(f"{m}/inventory/skus/{medium['id']}/movements", headers=auth)
    reasons = [row["reason"] for row in movements.json()["items"]]
    assert sorted(reasons) == ["initial", "order_release", "order_reserve"]
