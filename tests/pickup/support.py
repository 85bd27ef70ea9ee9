"""Helpers of the pickup tests: a store with the plugin on, points and staff made over the
merchant API, pickup orders placed and paid over the store API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from core.db import utcnow
from core.runtime import Runtime
from plugins.pickup.models import PickupOrder
from storeplug.testing import VENDOR, Merchant, Shopper, Staff, enable, ensure_plan, onboard
from tests.commerce.orders_support import place
from tests.commerce.payments_support import pay

PLAN = "test-pickup"
OPEN_ALL_DAY = [[["00:00", "24:00"]] for _ in range(7)]
# Shenzhen Nanshan, and a point about 1.1 km east and one about 11 km north of it.
HERE = (22.5400, 113.9500)


async def pickup_store(client: httpx.AsyncClient, **settings: Any) -> Merchant:
    await ensure_plan(client, PLAN, ["echo", "pickup"])
    merchant = await onboard(client, plan=PLAN, plugins=("echo", "pickup"))
    response = await enable(client, merchant, "pickup", settings)
    assert response.status_code == 200, response.text
    return merchant


def point_body(name: str, lat: float, lng: float, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "address": f"{name} 1号",
        "latitude": lat,
        "longitude": lng,
        "hours": OPEN_ALL_DAY,
        **extra,
    }


async def make_point(
    client: httpx.AsyncClient, merchant: Merchant, name: str, lat: float, lng: float, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{merchant.merchant}/pickup/points/",
        json=point_body(name, lat, lng, **extra),
        headers=merchant.auth,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def first_slot(client: httpx.AsyncClient, merchant: Merchant, point_id: str) -> str:
    response = await client.get(f"{merchant.store}/pickup/points/{point_id}/slots")
    assert response.status_code == 200, response.text
    # Not a slot about to start: it must still be ahead when the test's order is placed.
    soon = utcnow() + timedelta(minutes=10)
    slot: str = next(
        item["starts_at"]
        for item in response.json()["items"]
        if datetime.fromisoformat(item["starts_at"]) > soon
    )
    return slot


def pickup_body(sku_id: str, point_id: str, slot: str, quantity: int = 1) -> dict[str, Any]:
    return {
        "items": [{"sku_id": sku_id, "quantity": quantity}],
        "fulfillment": "pickup",
        "fulfillment_data": {"point_id": point_id, "slot": slot},
    }


async def placed_and_paid(
    client: httpx.AsyncClient, merchant: Merchant, buyer: Shopper, body: dict[str, Any]
) -> str:
    placed = await place(client, merchant, buyer, body)
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["id"]
    paid = await pay(client, merchant, buyer, order_id)
    assert paid.status_code == 201, paid.text
    return order_id


async def ticket(
    client: httpx.AsyncClient, merchant: Merchant, buyer: Shopper, order_id: str
) -> dict[str, Any]:
    response = await client.get(f"{merchant.store}/pickup/orders/{order_id}", headers=buyer.auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def verify(
    client: httpx.AsyncClient, merchant: Merchant, staff: Staff, point_id: str, **body: str
) -> httpx.Response:
    return await client.post(
        f"{merchant.merchant}/pickup/points/{point_id}/verify", json=body, headers=staff.auth
    )


async def pickup_row(rt: Runtime, merchant: Merchant, order_id: str) -> PickupOrder:
    async with rt.db.tenant_session(merchant.id) as session:
        row = await session.scalar(select(PickupOrder).where(PickupOrder.order_id == order_id))
        assert row is not None
        return row


async def walkable_point(client: httpx.AsyncClient, merchant: Merchant) -> str:
    """For tests/e2e/test_id_walk.py: add the pickup feature to ``merchant``'s plan (keeping
    the plan's other plugins), switch it on and add a point; the id the point routes take."""
    tenant = await client.get(f"/vendor/v1/tenants/{merchant.slug}", headers=VENDOR)
    plans = (await client.get("/vendor/v1/plans/", headers=VENDOR)).json()
    current = next(p for p in plans if p["code"] == tenant.json()["plan"])
    plugins = sorted({*current["plugins"], "pickup"})
    code = "test-walk-" + "-".join(plugins)
    await ensure_plan(client, code, plugins)
    moved = await client.patch(
        f"/vendor/v1/tenants/{merchant.slug}", json={"plan": code}, headers=VENDOR
    )
    assert moved.status_code == 200, moved.text
    assert (await enable(client, merchant, "pickup")).status_code == 200
    point = await make_point(client, merchant, "walk", *HERE)
    point_id: str = point["id"]
    return point_id
