"""Tenant resolution: cached, including "no such store", and refreshed by changes."""

from __future__ import annotations

import httpx

from storeplug.testing import VENDOR, ensure_plan, unique_slug


async def test_an_unknown_slug_is_cached_until_that_store_is_onboarded(
    client: httpx.AsyncClient,
) -> None:
    slug = unique_slug("later")
    for _ in range(2):  # the second answer comes from the cache
        missing = await client.get(f"/store/{slug}/v1/store/")
        assert missing.status_code == 404
        assert missing.json()["code"] == "tenant.not_found"
    await ensure_plan(client, "test-pro", ["echo"])
    created = await client.post(
        "/vendor/v1/tenants",
        json={"slug": slug, "name": "Later", "plan": "test-pro"},
        headers=VENDOR,
    )
    assert created.status_code == 201
    store = await client.get(f"/store/{slug}/v1/store/")
    assert store.status_code == 200
    assert store.json()["name"] == "Later"
