"""The plan bounds what is on, whatever the merchant stored; suspension comes first."""

from __future__ import annotations

import httpx

from storeplug.testing import VENDOR, enable, ensure_plan, onboard


async def test_plan_downgrade_switches_a_plugin_off_and_back(client: httpx.AsyncClient) -> None:
    merchant = await onboard(client, plan="test-pro")
    assert (await enable(client, merchant, "echo", {"greeting": "nihao"})).status_code == 200
    hello = f"{merchant.store}/echo/hello"
    assert (await client.get(hello)).json()["greeting"] == "nihao"

    await ensure_plan(client, "test-basic", [])
    moved = await client.patch(
        f"/vendor/v1/tenants/{merchant.slug}", json={"plan": "test-basic"}, headers=VENDOR
    )
    assert moved.status_code == 200
    off = await client.get(hello)
    assert off.status_code == 404
    assert off.json()["code"] == "plugin.disabled"
    listed = await client.get(f"{merchant.merchant}/plugins/", headers=merchant.auth)
    echo_row = next(p for p in listed.json() if p["name"] == "echo")
    assert echo_row["in_plan"] is False
    assert echo_row["enabled"] is False

    back = await client.patch(
        f"/vendor/v1/tenants/{merchant.slug}", json={"plan": "test-pro"}, headers=VENDOR
    )
    assert back.status_code == 200
    again = await client.get(hello)
    assert again.status_code == 200
    assert again.json()["greeting"] == "nihao"


async def test_suspension_answers_before_the_plugin_guard(client: httpx.AsyncClient) -> None:
    merchant = await onboard(client)
    await client.post(f"/vendor/v1/tenants/{merchant.slug}/suspend", headers=VENDOR)
    # echo is off for this store; a suspended store says so first.
    response = await client.get(f"{merchant.store}/echo/hello")
    assert response.status_code == 403
    assert response.json()["code"] == "tenant.suspended"
