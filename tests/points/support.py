"""Helpers of the points tests: a store with the plugin on, a member's points over the
storefront API, and lots written straight into the database for the expiry tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select

from core.runtime import Runtime
from plugins.points.models import PointsLot
from storeplug.testing import VENDOR, Merchant, Shopper, enable, ensure_plan, onboard

PLAN = "test-points"


async def points_store(client: httpx.AsyncClient, **settings: Any) -> Merchant:
    await ensure_plan(client, PLAN, ["echo", "points"])
    merchant = await onboard(client, plan=PLAN, plugins=("echo", "points"))
    response = await enable(client, merchant, "points", settings)
    assert response.status_code == 200, response.text
    return merchant


async def points_of(
    client: httpx.AsyncClient, merchant: Merchant, member: Shopper
) -> dict[str, Any]:
    response = await client.get(f"{merchant.store}/points", headers=member.auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def history(
    client: httpx.AsyncClient, merchant: Merchant, member: Shopper
) -> list[dict[str, Any]]:
    """Every ledger entry of the member, newest first, following the cursors."""
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get(
            f"{merchant.store}/points/history", params=params, headers=member.auth
        )
        assert page.status_code == 200, page.text
        entries.extend(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return entries


async def adjust(
    client: httpx.AsyncClient,
    merchant: Merchant,
    member_id: str,
    points: int,
    reason: str = "goodwill",
) -> httpx.Response:
    return await client.post(
        f"{merchant.merchant}/points/members/{member_id}/adjustments",
        json={"points": points, "reason": reason},
        headers=merchant.auth,
    )


async def lots_of(rt: Runtime, merchant: Merchant, member_id: str) -> list[PointsLot]:
    async with rt.db.tenant_session(merchant.id) as session:
        rows = await session.scalars(
            select(PointsLot).where(PointsLot.member_id == member_id).order_by(PointsLot.earned_at)
        )
        return list(rows.all())


async def add_lot(
    rt: Runtime,
    merchant: Merchant,
    member_id: str,
    points: int,
    earned_at: datetime,
    expires_at: datetime,
) -> str:
    """A lot earned in the past (the tests cannot wait months)."""
    async with rt.db.tenant_session(merchant.id) as session:
        lot = PointsLot(
            member_id=member_id,
            points=points,
            remaining=points,
            ref_type="campaign",
            ref_id="test",
            earned_at=earned_at,
            expires_at=expires_at,
        )
        session.add(lot)
        await session.flush()
        return lot.id


async def walkable_catalog_item(
    client: httpx.AsyncClient, merchant: Merchant, template_id: str
) -> str:
    """For tests/e2e/test_id_walk.py: add the points feature to ``merchant``'s plan (keeping
    the plan's other plugins), switch it on and offer ``template_id`` for points; the id the
    catalogue routes take."""
    tenant = await client.get(f"/vendor/v1/tenants/{merchant.slug}", headers=VENDOR)
    plans = (await client.get("/vendor/v1/plans/", headers=VENDOR)).json()
    current = next(p for p in plans if p["code"] == tenant.json()["plan"])
    plugins = sorted({*current["plugins"], "points"})
    code = "test-walk-" + "-".join(plugins)
    await ensure_plan(client, code, plugins)
    moved = await client.patch(
        f"/vendor/v1/tenants/{merchant.slug}", json={"plan": code}, headers=VENDOR
    )
    assert moved.status_code == 200, moved.text
    assert (await enable(client, merchant, "points")).status_code == 200
    item = await client.post(
        f"{merchant.merchant}/points/catalog",
        json={"template_id": template_id, "title": "walk", "cost": 1},
        headers=merchant.auth,
    )
    assert item.status_code == 201, item.text
    item_id: str = item.json()["id"]
    return item_id
