"""Shared helpers of the refund tests: paid orders over HTTP, asking for and making refunds,
waiting for the jobs to settle them, and the echo plugin's record of the refund hooks."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from sqlalchemy import select

from core.catalog.models import Sku
from core.idempotency import HEADER
from core.jobs import InProcessQueue
from core.orders.models import Order, OrderLine
from core.payments.models import Refund
from core.runtime import Runtime
from storeplug.testing import Merchant, Shopper, eventually
from tests.commerce.orders_support import Shop, make_address, place
from tests.commerce.payments_support import pay, use_sandbox
from tests.plugins.echo import plugin as echo


async def paid_order(
    client: httpx.AsyncClient,
    rt: Runtime,
    shop: Shop,
    items: list[tuple[Sku, int]],
    **extra: Any,
) -> dict[str, Any]:
    """An express order of ``items`` placed by the shop's buyer and paid in the sandbox."""
    merchant, buyer = shop.merchant, shop.buyer
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
    body_out: dict[str, Any] = order.json()
    return body_out


def line_of(order: dict[str, Any], sku: Sku) -> str:
    line_id: str = next(line["id"] for line in order["lines"] if line["sku_id"] == sku.id)
    return line_id


async def ask_refund(
    client: httpx.AsyncClient,
    merchant: Merchant,
    buyer: Shopper,
    order_id: str,
    body: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    """The member's ``POST /orders/{id}/refunds`` with a fresh Idempotency-Key."""
    return await client.post(
        f"{merchant.store}/orders/{order_id}/refunds",
        json=body,
        headers={**buyer.auth, HEADER: key or secrets.token_hex(8)},
    )


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


async def order_and_lines(
    rt: Runtime, merchant: Merchant, order_id: str
) -> tuple[Order, dict[str, OrderLine]]:
    async with rt.db.tenant_session(merchant.id) as session:
        order = await session.get(Order, (merchant.id, order_id))
        lines = await session.scalars(select(OrderLine).where(OrderLine.order_id == order_id))
        assert order is not None
        return order, {line.id: line for line in lines}


async def refunds_of(rt: Runtime, merchant: Merchant, order_id: str) -> list[Refund]:
    async with rt.db.tenant_session(merchant.id) as session:
        rows = await session.scalars(
            select(Refund).where(Refund.order_id == order_id).order_by(Refund.id)
        )
        return list(rows.all())


def hook_events(kind: str, tenant_id: str) -> list[Any]:
    """What the echo plugin's ``refund_succeeded`` / ``order_refunded`` heard for a tenant."""
    return [ref for event, tenant, ref in echo.EVENTS if event == kind and tenant == tenant_id]
