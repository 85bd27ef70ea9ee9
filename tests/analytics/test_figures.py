"""Every analytics figure against a data set worked out by hand (tests/analytics/support.py):
daily rollups, the funnel, sources and plugins' contributions, top products, repurchase,
RFM scores and segments, cohorts. On both backends.

The data set, by member (amounts in fen, days China time, 2025):
  A  09-01 10000 · 09-03 20000 (00:10, still 09-02 in UTC) · 10-15 30000 (a 3000 coupon)
  B  09-01 5000 (23:30) · 09-25 5000
  C  09-10 3000 · 10-25 4000
  D  09-10 8000, wholly refunded 09-12
  E  09-20 15000, 5000 of it refunded 09-21 · 10-28 6000
  F  10-01 2000 (00:10, 09-30 in UTC) · 10-30 2500 (a flash-sale line 4000 → 3000, then
     500 of points)
  G  10-20 1000 · 10-29 an order placed and never paid
  H  never buys
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from sqlalchemy import select

from core.analytics import rfm
from core.analytics.jobs import roll_day
from core.analytics.models import DayRollup, ProductDay, SourceDay
from core.runtime import Runtime
from tests.analytics.support import FIRST, LAST, Fixture, day

RANGE = {"start": FIRST.isoformat(), "end": LAST.isoformat()}
# day: (gmv, paid orders, paying members, new, returning, refunded, net revenue)
DAYS: dict[date, tuple[int, ...]] = {
    date(2025, 9, 1): (15000, 2, 2, 2, 0, 0, 15000),
    date(2025, 9, 2): (0, 0, 0, 0, 0, 0, 0),
    date(2025, 9, 3): (20000, 1, 1, 0, 1, 0, 20000),
    date(2025, 9, 10): (11000, 2, 2, 2, 0, 0, 11000),
    date(2025, 9, 12): (0, 0, 0, 0, 0, 8000, -8000),
    date(2025, 9, 20): (15000, 1, 1, 1, 0, 0, 15000),
    date(2025, 9, 21): (0, 0, 0, 0, 0, 5000, -5000),
    date(2025, 9, 25): (5000, 1, 1, 0, 1, 0, 5000),
    date(2025, 9, 30): (0, 0, 0, 0, 0, 0, 0),
    date(2025, 10, 1): (2000, 1, 1, 1, 0, 0, 2000),
    date(2025, 10, 15): (30000, 1, 1, 0, 1, 0, 30000),
    date(2025, 10, 20): (1000, 1, 1, 1, 0, 0, 1000),
    date(2025, 10, 25): (4000, 1, 1, 0, 1, 0, 4000),
    date(2025, 10, 28): (6000, 1, 1, 0, 1, 0, 6000),
    date(2025, 10, 29): (0, 0, 0, 0, 0, 0, 0),
    date(2025, 10, 30): (2500, 1, 1, 0, 1, 0, 2500),
}
DAY_FIELDS = (
    "gmv",
    "paid_orders",
    "paying_members",
    "new_buyers",
    "returning_buyers",
    "refunded",
    "net_revenue",
)
TOTALS = {
    "gmv": 111500,
    "net_revenue": 98500,
    "refunded": 13000,
    "refund_orders": 2,
    "refund_rate": 0.1166,  # 13000 / 111500
    "paid_orders": 13,
    "paying_members": 13,  # the sum of each day's distinct payers
    "new_buyers": 7,  # A B C D E F G
    "returning_buyers": 6,
    "aov": 8576,  # 111500 // 13
    "list_views": 14,
    "product_views": 16,
    "cart_adds": 4,
    "orders_placed": 14,
}
FUNNEL = {
    "visitors": 9,
    "product_viewers": 6,
    "cart_members": 3,
    "ordering_members": 14,
    "paying_members": 13,
}
# source: (list views, views, cart adds, orders, gmv, benefit)
SOURCES = {
    "direct": (14, 8, 2, 11, 79000, 0),  # the 11 paid orders nobody claimed
    "coupon": (0, 0, 0, 1, 30000, 3000),  # A's 10-15 order
    "flashsale": (0, 5, 1, 1, 3000, 1000),  # F's flash-sale line, before the points
    "points": (0, 0, 0, 1, 2500, 500),
    "share": (0, 3, 1, 0, 0, 0),
}
SEGMENTS = {
    # R by last purchase: B 09-25 < A 10-15 < G 10-20 < C 10-25 < E 10-28 < F 10-30 →
    # 1 1 2 3 4 5; F by purchases: G 1, B C E F 2 (tied), A 3 → 1 1 1 1 1 5; M: G 1000 <
    # F 4500 < C 7000 < B 10000 < E 16000 (net of the refund) < A 60000 → 1 1 2 3 4 5.
    # High is above the average score (R 16/6, F 10/6, M 16/6): R ≥ 3, F ≥ 2, M ≥ 3.
    "A": ("important_keep", 1, 5, 5, 3, 60000),
    "B": ("important_retain", 1, 1, 3, 2, 10000),
    "C": ("general_develop", 3, 1, 2, 2, 7000),
    "E": ("important_develop", 4, 1, 4, 2, 16000),
    "F": ("general_develop", 5, 1, 1, 2, 4500),
    "G": ("general_retain", 2, 1, 1, 1, 1000),
}


async def roll_all(rt: Runtime, fx: Fixture) -> None:
    tenant = await rt.tenants.resolve(fx.merchant.slug)
    for n in range(1, 61):
        await roll_day(rt, tenant, day(n))


async def stored_rows(rt: Runtime, fx: Fixture) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    async with rt.db.tenant_session(fx.merchant.id) as session:
        for model in (DayRollup, ProductDay, SourceDay):
            table = model.__table__
            result = await session.execute(  # Core columns: the tenant is named explicitly
                select(*table.columns)
                .where(table.c.tenant_id == fx.merchant.id)
                .order_by(*table.primary_key)
            )
            rows += [(model.__tablename__, *row) for row in result]
    return rows


async def get(client: httpx.AsyncClient, fx: Fixture, path: str, **params: Any) -> Any:
    response = await client.get(
        f"{fx.merchant.merchant}/analytics/{path}", params=params, headers=fx.merchant.auth
    )
    assert response.status_code == 200, response.text
    return response.json()


def check_totals(totals: dict[str, Any]) -> None:
    assert {name: totals[name] for name in TOTALS} == TOTALS
    assert {name: totals["funnel"][name] for name in FUNNEL} == FUNNEL


async def test_live_figures_before_any_rollup(
    client: httpx.AsyncClient, fixture_shop: Fixture
) -> None:
    """No day is rolled up yet: every day is computed live, to the same figures."""
    fx = fixture_shop
    body = await get(client, fx, "dashboard", **RANGE, compare="false")
    assert body["live_days"] == 60
    check_totals(body["totals"])


async def test_rollup_figures_by_day(
    client: httpx.AsyncClient, rt: Runtime, fixture_shop: Fixture
) -> None:
    fx = fixture_shop
    await roll_all(rt, fx)
    body = await get(client, fx, "dashboard", **RANGE)
    assert body["live_days"] == 0
    check_totals(body["totals"])
    by_day = {row["day"]: row for row in body["days"]}
    assert len(by_day) == 60 and not any(row["live"] for row in body["days"])
    for d, expected in DAYS.items():
        assert tuple(by_day[d.isoformat()][f] for f in DAY_FIELDS) == expected, d
    # The funnel of the two days with traffic.
    first, last = by_day["2025-09-01"], by_day["2025-10-30"]
    assert (first["visitors"], first["product_viewers"], first["cart_members"]) == (6, 4, 2)
    assert (first["ordering_members"], first["paying_members"]) == (2, 2)
    assert (first["product_views"], first["cart_adds"], first["aov"]) == (11, 3, 7500)
    assert (last["visitors"], last["product_viewers"], last["cart_members"]) == (3, 2, 1)
    assert by_day["2025-10-29"]["orders_placed"] == 1  # G's unpaid order
    funnel = body["totals"]["funnel"]
    assert (funnel["view_rate"], funnel["cart_rate"]) == (0.6667, 0.5)
    # The period before had no activity at all.
    assert body["previous"]["gmv"] == 0 and body["change"]["gmv_ratio"] is None
    assert body["change"]["gmv"] == 111500

    sources = {row["source"]: row for row in body["sources"]}
    assert {
        name: tuple(
            row[k] for k in ("list_views", "views", "cart_adds", "orders", "gmv", "benefit")
        )
        for name, row in sources.items()
    } == SOURCES
    assert [row["source"] for row in body["sources"]][:3] == ["direct", "coupon", "flashsale"]
    assert sources["flashsale"]["label"] == "秒杀" and sources["points"]["label"] == "积分抵扣"

    p1, p2 = fx.skus["P1"].product_id, fx.skus["P2"].product_id
    top = [
        (
            p["product_id"],
            p["title"],
            p["views"],
            p["cart_adds"],
            p["paid_orders"],
            p["units"],
            p["sales"],
        )
        for p in body["top_products"]
    ]
    assert top == [
        (p1, "P1 纯棉T恤", 11, 3, 12, 12, 109000),
        (p2, "P2 秒杀保温杯", 5, 1, 1, 1, 3000),
    ]


async def test_rollup_twice_gives_the_same_rows(rt: Runtime, fixture_shop: Fixture) -> None:
    await roll_all(rt, fixture_shop)
    before = await stored_rows(rt, fixture_shop)
    assert len([r for r in before if r[0] == "analytics_days"]) == 60
    await roll_all(rt, fixture_shop)
    assert await stored_rows(rt, fixture_shop) == before


async def test_a_range_inside_the_data(client: httpx.AsyncClient, fixture_shop: Fixture) -> None:
    """September against the 30 days before it, October against September."""
    sept = await get(client, fixture_shop, "dashboard", start="2025-09-01", end="2025-09-30")
    assert sept["totals"]["gmv"] == 15000 + 20000 + 11000 + 15000 + 5000
    assert sept["totals"]["net_revenue"] == 66000 - 13000
    octo = await get(client, fixture_shop, "dashboard", start="2025-10-01", end="2025-10-30")
    assert octo["totals"]["gmv"] == 2000 + 30000 + 1000 + 4000 + 6000 + 2500
    assert octo["previous"]["start"] == "2025-09-01" and octo["previous"]["gmv"] == 66000
    assert octo["change"]["gmv"] == 45500 - 66000
    assert octo["change"]["gmv_ratio"] == round((45500 - 66000) / 66000, 4)
    assert octo["change"]["paid_orders"] == 6 - 7


async def test_repurchase(client: httpx.AsyncClient, fixture_shop: Fixture) -> None:
    fx = fixture_shop
    # September's buyers A B C E (D's only order was refunded whole): A again two days
    # later, B 24 days later; C (45) and E (38) not within 30.
    sept = await get(client, fx, "repurchase", start="2025-09-01", end="2025-09-30")
    assert (sept["buyers"], sept["repurchasers"], sept["rate"]) == (4, 2, 0.5)
    # October's F A G C E: only F, 29.5 days after 10-01 00:10.
    octo = await get(client, fx, "repurchase", start="2025-10-01", end="2025-10-30")
    assert (octo["buyers"], octo["repurchasers"], octo["rate"]) == (5, 1, 0.2)
    assert (
        await get(client, fx, "repurchase", start="2025-10-01", end="2025-10-30", within_days=20)
    )["repurchasers"] == 0
    week = await get(client, fx, "repurchase", **RANGE, within_days=7)
    assert (week["buyers"], week["repurchasers"], week["rate"]) == (6, 1, 0.1667)


async def test_rfm_segments_and_cohorts(
    client: httpx.AsyncClient, rt: Runtime, fixture_shop: Fixture
) -> None:
    fx = fixture_shop
    tenant = await rt.tenants.resolve(fx.merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        assert await rfm.recompute(ctx) == 6
    for letter, (segment, r, f, m, orders, monetary) in SEGMENTS.items():
        detail = await client.get(
            f"{fx.merchant.merchant}/members/{fx.members[letter]}", headers=fx.merchant.auth
        )
        assert detail.status_code == 200, detail.text
        scores = detail.json()["rfm"]
        assert (scores["segment"], scores["r"], scores["f"], scores["m"]) == (segment, r, f, m), (
            letter
        )
        assert (scores["orders"], scores["monetary"]) == (orders, monetary), letter
    for letter in "DH":  # D's only order was refunded whole; H never bought
        detail = await client.get(
            f"{fx.merchant.merchant}/members/{fx.members[letter]}", headers=fx.merchant.auth
        )
        assert detail.json()["rfm"] is None

    sizes = await get(client, fx, "segments")
    assert sizes["members"] == 6
    assert {row["segment"]: row["members"] for row in sizes["segments"] if row["members"]} == {
        "important_keep": 1,
        "important_retain": 1,
        "important_develop": 1,
        "general_develop": 2,
        "general_retain": 1,
    }
    assert len(sizes["segments"]) == 8
    labels = {row["segment"]: row["label"] for row in sizes["segments"]}
    assert (
        labels["important_value"] == "重要价值客户" and labels["general_retain"] == "一般挽留客户"
    )
    develop = next(row for row in sizes["segments"] if row["segment"] == "general_develop")
    assert (develop["monetary"], develop["share"]) == (7000 + 4500, 0.3333)
    trend = next(t for t in sizes["trends"] if t["segment"] == "general_develop")
    assert [p["members"] for p in trend["points"]] == [2]

    members = await get(client, fx, "segments/general_develop/members")
    assert [m["member_id"] for m in members["items"]] == [fx.members["C"], fx.members["F"]]

    # Cohorts by first-purchase month in China time: F's first order (10-01 00:10) is
    # October's, though it is still September in UTC.
    cohorts = await get(client, fx, "cohorts", months=3)
    rows = {row["cohort"]: row for row in cohorts["rows"]}
    assert list(rows) == ["2025-10", "2025-09"]
    assert (rows["2025-09"]["members"], rows["2025-09"]["retained"]) == (4, [3, 0, 0])
    assert rows["2025-09"]["rates"][0] == 0.75
    assert (rows["2025-10"]["members"], rows["2025-10"]["retained"]) == (2, [0, 0, 0])

    # Recomputing changes nothing but the time.
    async with rt.tenant_context(tenant) as ctx:
        assert await rfm.recompute(ctx) == 6
    assert (await get(client, fx, "segments"))["members"] == 6


async def test_csv_export(client: httpx.AsyncClient, fixture_shop: Fixture) -> None:
    fx = fixture_shop
    response = await client.get(
        f"{fx.merchant.merchant}/analytics/export/days", params=RANGE, headers=fx.merchant.auth
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="days-2025-09-01-2025-10-30.csv"' in response.headers["content-disposition"]
    lines = response.content.decode("utf-8-sig").splitlines()
    header = lines[0].split(",")
    assert header[:3] == ["day", "gmv", "net_revenue"] and len(lines) == 61
    first = dict(zip(header, lines[1].split(","), strict=True))
    assert (first["day"], first["gmv"], first["new_buyers"]) == ("2025-09-01", "15000", "2")

    products = await client.get(
        f"{fx.merchant.merchant}/analytics/export/products", params=RANGE, headers=fx.merchant.auth
    )
    assert "P1 纯棉T恤" in products.content.decode("utf-8-sig")
