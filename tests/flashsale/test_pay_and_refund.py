"""A flash order through the real money routes: the buyer pays it with the sandbox provider,
the merchant refunds it, and the sale's stats and the SKU's stock follow."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from storeplug.testing import Merchant
from tests.commerce.orders_support import stock_of
from tests.commerce.payments_support import pay, use_sandbox
from tests.commerce.refunds_support import refund_directly, settled
from tests.flashsale.support import buy, buyers, flash_store, sale


async def _stats(client: httpx.AsyncClient, merchant: Merchant, activity_id: str) -> dict[str, int]:
    response = await client.get(
        f"{merchant.merchant}/flashsale/activities/{activity_id}/stats", headers=merchant.auth
    )
    assert response.status_code == 200, response.text
    body: dict[str, int] = response.json()
    return body


async def test_a_paid_flash_order_refunded_in_full(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    merchant = await flash_store(client)
    await use_sandbox(client, merchant)
    sku, activity = await sale(client, rt, merchant, units=3, sku_stock=10)
    [member] = await buyers(rt, merchant, 1)
    won = await buy(client, merchant, member, activity["id"], sku.id)
    assert won.status_code == 201, won.text
    order_id = won.json()["order_id"]

    paid = await pay(client, merchant, member, order_id)
    assert paid.status_code == 201, paid.text
    assert (paid.json()["amount"], paid.json()["order_status"]) == (990, "paid")
    stats = await _stats(client, merchant, activity["id"])
    assert (stats["paid"], stats["revenue"], stats["pending"]) == (1, 990, 0)

    refund = await refund_directly(
        client, merchant, order_id, {"reason": "out of beans", "restock": True}
    )
    assert refund.status_code == 201, refund.text
    done = await settled(client, rt, merchant, refund.json()["id"], "succeeded")
    assert done["amount"] == 990
    order = await client.get(f"{merchant.merchant}/orders/{order_id}", headers=merchant.auth)
    assert order.json()["status"] == "refunded"
    stats = await _stats(client, merchant, activity["id"])
    assert (stats["refunded"], stats["revenue"]) == (1, 0)
    # Published: 3 of the SKU's 10 moved into the sale; the refunded unit goes back to the
    # SKU, not into the sale (docs/plugins.md).
    assert await stock_of(rt, merchant, sku.id) == 10 - 3 + 1
