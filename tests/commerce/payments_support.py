"""Paying for orders in the tests: the merchant turns a provider on, the buyer pays."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.helpers import Merchant, Shopper


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
