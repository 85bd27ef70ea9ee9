"""Shared helpers of the refund tests: paid orders over HTTP, asking for and making refunds,
waiting for the jobs to settle them, and the echo plugin's record of the refund hooks."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from sqlalchemy import select

from core.catalog.models import Sku
from core.idempotency import HEADER
from core.orders.models import Order, OrderLine
from core.payments.models import Refund
from core.runtime import Runtime
from storeplug.testing import Merchant, Shopper, commerce

# The test kit's (storeplug.testing.commerce), shared with plugin authors.
from storeplug.testing.commerce import merchant_refund as merchant_refund
from storeplug.testing.commerce import refund_directly as refund_directly
from storeplug.testing.commerce import settled as settled
from tests.commerce.orders_support import Shop
from tests.plugins.echo import plugin as echo


async def paid_order(
    client: httpx.AsyncClient,
    rt: Runtime,
    shop: Shop,
    items: list[tuple[Sku, int]],
    **extra: Any,
) -> dict[str, Any]:
    """An express order of ``items`` placed by the shop's buyer and paid in the sandbox."""
    return await commerce.paid_order(client, rt, shop.merchant, shop.buyer, items, **extra)


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
