"""Tenant resolution: cached, including "no such store", and refreshed by changes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from core.context import TenantInfo
from core.runtime import Runtime
from storeplug.testing import VENDOR, enable, ensure_plan, onboard, unique_slug


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


async def test_a_load_overtaken_by_a_change_is_not_cached(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    """A resolve that read the rows before a change committed, and finishes after the change
    dropped the cache, must not put its stale info back (without Redis no version key would
    ever correct it)."""
    merchant = await onboard(client)
    directory = rt.tenants
    stale = await directory.load(merchant.slug)
    assert stale is not None and "echo" not in stale.enabled_plugins
    reading, changed = asyncio.Event(), asyncio.Event()
    real_load = directory.load

    async def slow_load(slug: str) -> TenantInfo | None:
        if reading.is_set():  # the requests of the change itself load as usual
            return await real_load(slug)
        reading.set()
        await changed.wait()  # the change commits and drops the cache meanwhile
        return stale

    await directory.invalidate(merchant.slug)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(directory, "load", slow_load)
        overtaken = asyncio.create_task(directory.resolve(merchant.slug))
        await reading.wait()
        assert (await enable(client, merchant, "echo")).status_code == 200
        changed.set()
        assert "echo" not in (await overtaken).enabled_plugins  # it began before the change
    assert "echo" in (await directory.resolve(merchant.slug)).enabled_plugins
