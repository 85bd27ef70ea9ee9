"""The rollup and RFM jobs and the analytics API around them: history stays put when a
refund comes later, the nightly job catches up, re-runs are asked for over the API, plugins
contribute through the hook, and bad requests get a 4xx with a code."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.analytics.events import local_day
from core.analytics.facts import Contribution, OrderFacts
from core.analytics.jobs import due_days, roll_day, tenant_nightly
from core.analytics.models import DayRollup, MemberRfm
from core.context import TenantContext
from core.hookspecs import hookimpl
from core.runtime import Runtime
from storeplug.testing import Merchant, eventually, make_member, onboard, problem, staff_auth
from tests.analytics.support import add_refund, at, insert_order
from tests.commerce.orders_support import make_sku


async def stored_day(rt: Runtime, merchant: Merchant, day: Any) -> DayRollup | None:
    async with rt.db.tenant_session(merchant.id) as session:
        return await session.get(DayRollup, (merchant.id, day))


async def test_a_later_refund_lowers_the_later_day(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await onboard(client)
    tenant = await rt.tenants.resolve(merchant.slug)
    member = await make_member(rt, merchant)
    sku = await make_sku(rt, merchant)
    sold, later = local_day() - timedelta(days=5), local_day() - timedelta(days=2)
    order_id = await insert_order(rt, merchant, member.id, at(sold, 12), 9000, sku, {})
    await roll_day(rt, tenant, sold)
    before = await stored_day(rt, merchant, sold)
    assert before is not None and (before.gmv, before.net_revenue) == (9000, 9000)

    await add_refund(rt, merchant, order_id, later, 4000)
    for day in (sold, later):
        await roll_day(rt, tenant, day)
    again = await stored_day(rt, merchant, sold)
    assert again is not None and (again.gmv, again.net_revenue, again.refunded) == (9000, 9000, 0)
    refund_day = await stored_day(rt, merchant, later)
    assert refund_day is not None
    assert (refund_day.gmv, refund_day.refunded, refund_day.net_revenue) == (0, 4000, -4000)
    assert refund_day.refund_orders == 1


async def test_nightly_catches_up_then_rolls_yesterday(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await onboard(client)
    tenant = await rt.tenants.resolve(merchant.slug)
    member = await make_member(rt, merchant)
    sku = await make_sku(rt, merchant)
    today = local_day()
    await insert_order(rt, merchant, member.id, at(today - timedelta(days=4), 12), 1000, sku, {})
    await insert_order(rt, merchant, member.id, at(today - timedelta(days=1), 12), 2000, sku, {})
    assert await due_days(rt, tenant) == [today - timedelta(days=n) for n in (4, 3, 2, 1)]
    assert await tenant_nightly(rt, tenant.id) == 4
    assert await due_days(rt, tenant) == [today - timedelta(days=1)]
    async with rt.db.tenant_session(merchant.id) as session:
        days = (await session.scalars(select(DayRollup.day).order_by(DayRollup.day))).all()
        scored = await session.scalar(select(func.count()).select_from(MemberRfm))
    assert days == [today - timedelta(days=n) for n in (4, 3, 2, 1)]
    assert scored == 1
    # A quiet store has nothing to catch up on but yesterday.
    quiet = await onboard(client)
    assert await due_days(rt, await rt.tenants.resolve(quiet.slug)) == [today - timedelta(days=1)]


@pytest.mark.usefixtures("worker")
async def test_rollups_and_rfm_on_request(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await onboard(client)
    member = await make_member(rt, merchant)
    sku = await make_sku(rt, merchant)
    day = local_day() - timedelta(days=3)
    await insert_order(rt, merchant, member.id, at(day, 12), 5000, sku, {})
    base, auth = f"{merchant.merchant}/analytics", merchant.auth
    body = {"start": (day - timedelta(days=1)).isoformat(), "end": day.isoformat()}
    queued = await client.post(f"{base}/rollups", json=body, headers=auth)
    assert queued.status_code == 202, queued.text
    assert queued.json() == {"job": "analytics.rollup", "days": 2}

    async def rolled() -> bool:
        row = await stored_day(rt, merchant, day)
        return row is not None and row.gmv == 5000

    await eventually(rolled, what="the rollup job")
    queued = await client.post(f"{base}/rfm", headers=auth)
    assert queued.status_code == 202, queued.text

    async def scored() -> bool:
        segments = await client.get(f"{base}/segments", headers=auth)
        return bool(segments.json()["members"] == 1)

    await eventually(scored, what="the RFM job")


async def test_bad_requests(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await onboard(client)
    base, auth = f"{merchant.merchant}/analytics", merchant.auth
    today = local_day()
    cases = [
        ({"start": "2025-09-02", "end": "2025-09-01"}, "analytics.invalid_range"),
        ({"start": "2024-01-01", "end": "2025-09-01"}, "analytics.range_too_long"),
        ({"start": (today + timedelta(days=1)).isoformat()}, "analytics.invalid_range"),
    ]
    for params, code in cases:
        problem(await client.get(f"{base}/dashboard", params=params, headers=auth), 422, code)
    assert (
        await client.get(f"{base}/days", params={"start": "yesterday"}, headers=auth)
    ).status_code == 400
    assert (
        await client.get(f"{base}/repurchase", params={"within_days": 0}, headers=auth)
    ).status_code == 400
    assert (await client.get(f"{base}/export/orders", headers=auth)).status_code == 400
    problem(
        await client.get(f"{base}/segments/vip/members", headers=auth),
        404,
        "analytics.unknown_segment",
    )
    for body in (
        {"start": today.isoformat(), "end": today.isoformat()},
        {"start": "2025-09-02", "end": "2025-09-01"},
    ):
        problem(
            await client.post(f"{base}/rollups", json=body, headers=auth),
            422,
            "analytics.invalid_range",
        )
    bad = await client.post(
        f"{base}/rollups", json={"start": "2025-09-01", "end": "2025-09-01", "x": 1}, headers=auth
    )
    assert bad.status_code == 400
    # Figures are for managers and owners.
    clerk = await staff_auth(client, merchant, "clerk")
    problem(await client.get(f"{base}/dashboard", headers=clerk), 403, "auth.role_required")
    problem(await client.post(f"{base}/rfm", headers=clerk), 403, "auth.role_required")
    problem(await client.get(f"{base}/dashboard"), 401, "auth.required")


@dataclass(eq=False)  # registered as a plugin: pluggy keeps plugins in sets
class Claimer:
    """A plugin that claims every order over 3000 fen for its own source."""

    seen: list[str] = field(default_factory=list)

    @hookimpl
    async def analytics_contributions(
        self, ctx: TenantContext, orders: list[OrderFacts]
    ) -> list[Contribution]:
        self.seen += [o.id for o in orders]
        return [
            Contribution(source="claimer", order_id=o.id, gmv=o.paid_amount - 1000, benefit=1000)
            for o in orders
            if o.paid_amount > 3000
        ] + [Contribution(source="claimer", order_id="not-in-the-batch", gmv=10**9)]


@pytest.fixture
def claimer(rt: Runtime) -> Iterator[Claimer]:
    plugin = Claimer()
    name = f"tests.analytics_claimer.{secrets.token_hex(4)}"
    rt.plugins.pm.register(plugin, name=name)
    yield plugin
    rt.plugins.pm.unregister(name=name)


async def test_plugins_contribute_through_the_hook(
    client: httpx.AsyncClient, rt: Runtime, claimer: Claimer
) -> None:
    merchant = await onboard(client)
    member = await make_member(rt, merchant)
    sku = await make_sku(rt, merchant)
    day = local_day() - timedelta(days=1)
    small = await insert_order(rt, merchant, member.id, at(day, 9), 2000, sku, {})
    big = await insert_order(rt, merchant, member.id, at(day, 10), 5000, sku, {})
    await roll_day(rt, await rt.tenants.resolve(merchant.slug), day)
    assert sorted(claimer.seen) == sorted([small, big])
    sources = await client.get(
        f"{merchant.merchant}/analytics/sources",
        params={"start": day.isoformat(), "end": day.isoformat()},
        headers=merchant.auth,
    )
    assert sources.status_code == 200, sources.text
    rows = {row["source"]: row for row in sources.json()}
    # Only the orders of the batch count; an unknown source is shown by its name.
    assert (rows["claimer"]["orders"], rows["claimer"]["gmv"], rows["claimer"]["benefit"]) == (
        1,
        4000,
        1000,
    )
    assert rows["claimer"]["label"] == "claimer"
    assert (rows["direct"]["orders"], rows["direct"]["gmv"]) == (1, 2000)


def test_sources_come_from_the_hook(rt: Runtime) -> None:
    """``analytics_sources``: the core's and each installed plugin's, with their labels."""
    labels = rt.events.labels
    assert labels["flashsale"] == "秒杀" and labels["groupbuy"] == "拼团"
    assert labels["points"] == "积分抵扣" and labels["share"] == "分享"
    assert {"direct", "scan", "coupon"} <= set(labels)
