"""Storefront traffic over real HTTP: product lists, product pages and cart adds are counted
in memory, written by the flush, and make today's live funnel together with a real order
paid through the sandbox."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from core.analytics.events import EventBuffer, local_day
from core.analytics.models import TrafficCount, VisitorDay
from core.runtime import Runtime
from storeplug.testing import Merchant
from tests.commerce.orders_support import make_sku, new_shop
from tests.commerce.refunds_support import paid_order


async def traffic(
    rt: Runtime, merchant: Merchant
) -> tuple[dict[tuple[str, str], tuple[int, int, int]], dict[str, int]]:
    today = local_day()
    async with rt.db.tenant_session(merchant.id) as session:
        counts = {
            (row.product_id, row.source): (row.list_views, row.views, row.cart_adds)
            for row in await session.scalars(select(TrafficCount).where(TrafficCount.day == today))
        }
        visitors = {
            row.visitor: row.stages
            for row in await session.scalars(select(VisitorDay).where(VisitorDay.day == today))
        }
    return counts, visitors


async def test_traffic_makes_todays_funnel(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await new_shop(client, rt)
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, price=2000, stock=10)
    store = merchant.store
    shared = {"X-Visitor-Id": "visitor-0001", "X-Visit-Source": "share"}
    for _ in range(2):
        assert (await client.get(f"{store}/products", headers=shared)).status_code == 200
    assert (
        await client.get(f"{store}/products/{sku.product_id}", headers=shared)
    ).status_code == 200
    # No id at all: the hit counts, the visitor cannot.
    assert (await client.get(f"{store}/products")).status_code == 200
    # A signed-in member: the token names them; a source we do not know counts as direct.
    signed_in = {
        **buyer.auth,
        "X-Visit-Source": "nonsense",
        "X-Visitor-Id": "ignored-when-signed-in",
    }
    assert (
        await client.get(f"{store}/products/{sku.product_id}", headers=signed_in)
    ).status_code == 200
    added = await client.post(
        f"{store}/cart/lines", json={"sku_id": sku.id, "quantity": 1}, headers=signed_in
    )
    assert added.status_code == 201, added.text
    # Not counted: a product that does not exist, a visitor id that is not one.
    assert (await client.get(f"{store}/products/{'0' * 26}", headers=shared)).status_code == 404
    assert (await client.get(f"{store}/products", headers={"X-Visitor-Id": "x"})).status_code == 200

    await rt.events.flush(rt.db)
    counts, visitors = await traffic(rt, merchant)
    assert counts == {
        ("", "share"): (2, 0, 0),
        ("", "direct"): (2, 0, 0),
        (sku.product_id, "share"): (0, 1, 0),
        (sku.product_id, "direct"): (0, 1, 1),
    }
    assert visitors == {"v:visitor-0001": 3, f"m:{buyer.id}": 7}  # visited | viewed | carted

    # A second flush adds to the same rows.
    assert (
        await client.get(f"{store}/products/{sku.product_id}", headers=shared)
    ).status_code == 200
    await rt.events.flush(rt.db)
    counts, _ = await traffic(rt, merchant)
    assert counts[(sku.product_id, "share")] == (0, 2, 0)

    await paid_order(client, rt, shop, [(sku, 2)])
    dashboard = await client.get(f"{merchant.merchant}/analytics/dashboard", headers=merchant.auth)
    assert dashboard.status_code == 200, dashboard.text
    body = dashboard.json()
    assert body["live_days"] == 1  # today; the days before the store's first activity are empty
    totals = body["totals"]
    assert (totals["gmv"], totals["paid_orders"], totals["new_buyers"], totals["aov"]) == (
        4000,
        1,
        1,
        4000,
    )
    funnel = totals["funnel"]
    assert (funnel["visitors"], funnel["product_viewers"], funnel["cart_members"]) == (2, 2, 1)
    assert (funnel["ordering_members"], funnel["paying_members"]) == (1, 1)
    assert (totals["list_views"], totals["product_views"], totals["cart_adds"]) == (4, 3, 1)
    today = body["days"][-1]
    assert today["day"] == local_day().isoformat() and today["live"] is True
    assert body["top_products"][0]["product_id"] == sku.product_id
    assert body["top_products"][0]["units"] == 2


async def test_a_failed_write_keeps_the_counts(rt: Runtime) -> None:
    events = EventBuffer()
    events.list_view("0" * 26, "v:someone-000")  # no such tenant: the write is refused
    assert await events.flush(rt.db) == 0
    assert events.pending == 2  # kept for the next flush
