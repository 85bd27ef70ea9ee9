from __future__ import annotations

import httpx

from tests.helpers import VENDOR, onboard


async def test_health_and_schema(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    assert "/vendor/v1/tenants" in schema.json()["paths"]


async def test_onboard_and_login(client: httpx.AsyncClient) -> None:
    merchant = await onboard(client)
    me = await client.get(f"{merchant.merchant}/auth/me", headers=merchant.auth)
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "owner"
    listed = await client.get("/vendor/v1/tenants", headers=VENDOR)
    assert listed.status_code == 200
