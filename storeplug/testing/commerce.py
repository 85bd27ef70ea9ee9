"""Commerce in tests: products and addresses made straight in the database, orders placed
and paid over the real storefront API (the sandbox provider settles at once), and refunds the
merchant makes, waited for until their jobs settle them. For plugins that react to orders."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from core.catalog.models import Product, Sku
from core.idempotency import HEADER
from core.jobs import InProcessQueue
from core.members.models import Address
from core.runtime import Runtime
from storeplug.testing.helpers import Merchant, Shopper, eventually


async def make_sku(
    rt: Runtime,
    merchant: Merchant,
    *,
    price: int = 1990,
    stock: int = 10,
    on_shelf: bool = True,
    safety_stock: int = 0,
    title: str = "纯棉T恤",
    specs: dict[str, str] | None = None,
) -> Sku:
    """A product on the shelf (unless ``on_shelf`` is False) with one SKU of ``stock``."""
    async with rt.db.tenant_session(merchant.id) as session:
        product = Product(
            title=title,
            status="on" if on_shelf else "off",
            images=["https://img.example/tee.png"],
            min_price=price,
        )
        session.add(product)
        await session.flush()
        sku = Sku(
            product_id=product.id,
            specs={"颜色": "红", "尺码": "M"} if specs is None else specs,
            price=price,
            stock=stock,
            safety_stock=safety_stock,
        )
        session.add(sku)
        await session.flush()
    return sku


async def make_address(rt: Runtime, merchant: Merchant, member_id: str) -> str:
    """A delivery address of the member; its id."""
    async with rt.db.tenant_session(merchant.id) as session:
        address = Address(
            member_id=member_id,
            name="张三",
            phone="13800000000",
            province="广东省",
            city="深圳市",
            district="南山区",
            detail="科技园1号",
        )
        session.add(address)
        await session.flush()
        return address.id


def direct(sku: Sku, quantity: int = 1, address_id: str = "", **extra: Any) -> dict[str, Any]:
    """The body of an express order of ``quantity`` of ``sku``."""
    return {
        "items": [{"sku_id": sku.id, "quantity": quantity}],
        "fulfillment": "express",
        "fulfillment_data": {"address_id": address_id},
        **extra,
    }


async def place(
    client: httpx.AsyncClient,
    merchant: Merchant,
    buyer: Shopper,
    body: dict[str, Any],
    key: str | None = "",
) -> httpx.Response:
    """POST an order; a fresh Idempotency-Key unless one is given (None: no header)."""
    headers = dict(buyer.auth)
    if key is not None:
        headers[HEADER] = key or secrets.token_hex(8)
    return await client.post(f"{merchant.store}/orders", json=body, headers=headers)


async def activate_provider(
    client: httpx.AsyncClient, merchant: Merchant, provider: str, config: dict[str, Any]
) -> dict[str, Any]:
    """Save the merchant's credentials for ``provider`` and make it the one buyers pay with."""
    response = await client.put(
        f"{merchant.merchant}/payments/accounts/{provider}",
        json={"config": config, "active": True},
        headers=merchant.auth,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def use_sandbox(client: httpx.AsyncClient, merchant: Merchant) -> None:
    await activate_provider(client, merchant, "sandbox", {})


async def pay(
    client: httpx.AsyncClient,
    merchant: Merchant,
    shopper: Shopper,
    order_id: str,
    key: str | None = None,
) -> httpx.Response:
    """``POST /orders/{id}/pay`` as the buyer, with a fresh Idempotency-Key unless given."""
    return await client.post(
        f"{merchant.store}/orders/{order_id}/pay",
        json={},
        headers={**shopper.auth, "Idempotency-Key": key or secrets.token_hex(8)},
    )


async def paid_order(
    client: httpx.AsyncClient,
    rt: Runtime,
    merchant: Merchant,
    buyer: Shopper,
    items: list[tuple[Sku, int]],
    **extra: Any,
) -> dict[str, Any]:
    """An express order of ``items`` placed by ``buyer`` and paid in the sandbox (switched
    on for the store here); the order as the buyer sees it afterwards."""
    await use_sandbox(client, merchant)
    body = {
        "items": [{"sku_id": sku.id, "quantity": quantity} for sku, quantity in items],
        "fulfillment": "express",
        "fulfillment_data": {"address_id": await make_address(rt, merchant, buyer.id)},
        **extra,
    }
    placed = await place(client, merchant, buyer, body)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    paid = await pay(client, merchant, buyer, order_id)
    assert paid.status_code in (200, 201), paid.text
    assert paid.json()["order_status"] == "paid", paid.text
    order = await client.get(f"{merchant.store}/orders/{order_id}", headers=buyer.auth)
    assert order.status_code == 200, order.text
    answer: dict[str, Any] = order.json()
    return answer


async def refund_directly(
    client: httpx.AsyncClient,
    merchant: Merchant,
    order_id: str,
    body: dict[str, Any],
    key: str | None = None,
    auth: dict[str, str] | None = None,
) -> httpx.Response:
    """The merchant's ``POST /orders/{id}/refunds`` with a fresh Idempotency-Key."""
    return await client.post(
        f"{merchant.merchant}/orders/{order_id}/refunds",
        json=body,
        headers={**(auth or merchant.auth), HEADER: key or secrets.token_hex(8)},
    )


async def merchant_refund(
    client: httpx.AsyncClient, merchant: Merchant, refund_id: str
) -> dict[str, Any]:
    """The refund as the merchant sees it."""
    response = await client.get(f"{merchant.merchant}/refunds/{refund_id}", headers=merchant.auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def settled(
    client: httpx.AsyncClient, rt: Runtime, merchant: Merchant, refund_id: str, status: str
) -> dict[str, Any]:
    """Wait for the refund to reach ``status`` (the submit job, a notification); return it."""
    if isinstance(rt.jobs, InProcessQueue):
        await rt.jobs.drain(15)
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update(await merchant_refund(client, merchant, refund_id))
        return bool(seen["status"] == status)

    await eventually(reached, what=f"refund {refund_id} to be {status}")
    return seen
