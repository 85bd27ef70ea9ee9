"""Helpers of the leaders tests: a store with pickup and leaders on, leaders who applied
and were approved over the real APIs, and the leader rows behind them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from core.db import utcnow
from core.orders.placement import CST
from core.runtime import Runtime
from plugins.leaders.models import LeaderOrder
from storeplug.testing import VENDOR, Merchant, Shopper, enable, ensure_plan, make_member, onboard

PLAN = "test-leaders"
PLUGINS = ("echo", "pickup", "leaders")
# Shenzhen, 幸福里小区.
HOME = (22.5431, 114.0579)


async def leaders_store(client: httpx.AsyncClient, **settings: Any) -> Merchant:
    await ensure_plan(client, PLAN, list(PLUGINS))
    merchant = await onboard(client, plan=PLAN, plugins=PLUGINS)
    assert (await enable(client, merchant, "pickup")).status_code == 200
    response = await enable(client, merchant, "leaders", settings)
    assert response.status_code == 200, response.text
    return merchant


def application(name: str = "张姐", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "phone": "13800138000",
        "address": "幸福里小区 3 栋 101 便利店",
        "latitude": HOME[0],
        "longitude": HOME[1],
        "photo_url": "https://img.example/shop.jpg",
        **extra,
    }


async def apply(
    client: httpx.AsyncClient, merchant: Merchant, member: Shopper, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"{merchant.store}/leaders/apply", json=application(**extra), headers=member.auth
    )


async def decide(
    client: httpx.AsyncClient,
    merchant: Merchant,
    leader_id: str,
    action: str,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    return await client.post(
        f"{merchant.merchant}/leaders/{leader_id}/{action}", json=body, headers=merchant.auth
    )


@dataclass
class LeaderUser:
    """An approved leader: their member account, leader id and pickup point."""

    member: Shopper
    id: str
    point_id: str

    @property
    def auth(self) -> dict[str, str]:
        return self.member.auth


async def new_leader(
    client: httpx.AsyncClient, rt: Runtime, merchant: Merchant, name: str = "张姐"
) -> LeaderUser:
    member = await make_member(rt, merchant, nickname=name)
    applied = await apply(client, merchant, member, name=name)
    assert applied.status_code == 200, applied.text
    approved = await decide(client, merchant, applied.json()["id"], "approve")
    assert approved.status_code == 200, approved.text
    body = approved.json()
    return LeaderUser(member=member, id=body["id"], point_id=body["point_id"])


async def bind(
    client: httpx.AsyncClient, merchant: Merchant, buyer: Shopper, leader_id: str
) -> httpx.Response:
    return await client.post(f"{merchant.store}/leaders/{leader_id}/bind", headers=buyer.auth)


async def leader_orders(rt: Runtime, merchant: Merchant) -> dict[str, tuple[str, str]]:
    """order id -> (leader id, via) of every order that counts for a leader."""
    async with rt.db.tenant_session(merchant.id) as session:
        rows = (await session.scalars(select(LeaderOrder))).all()
    return {row.order_id: (row.leader_id, row.via) for row in rows}


def key() -> dict[str, str]:
    return {"Idempotency-Key": secrets.token_hex(8)}


async def walkable_leader(
    client: httpx.AsyncClient, rt: Runtime, merchant: Merchant, sku_id: str
) -> dict[str, str]:
    """For tests/e2e/test_id_walk.py: add the leaders feature to ``merchant``'s plan (keeping
    the plan's other plugins, pickup among them), switch it on, approve a leader and publish
    a round of ``sku_id``; the ids the leader and round routes take."""
    tenant = await client.get(f"/vendor/v1/tenants/{merchant.slug}", headers=VENDOR)
    plans = (await client.get("/vendor/v1/plans/", headers=VENDOR)).json()
    current = next(p for p in plans if p["code"] == tenant.json()["plan"])
    plugins = sorted({*current["plugins"], "pickup", "leaders"})
    code = f"{current['code'][:30]}-leaders"
    await ensure_plan(client, code, plugins)
    moved = await client.patch(
        f"/vendor/v1/tenants/{merchant.slug}", json={"plan": code}, headers=VENDOR
    )
    assert moved.status_code == 200, moved.text
    assert (await enable(client, merchant, "pickup")).status_code == 200
    assert (await enable(client, merchant, "leaders")).status_code == 200
    leader = await new_leader(client, rt, merchant, name="walk")
    round_ = await make_round(client, merchant, [(sku_id, 1)], title="walk")
    return {"leader_id": leader.id, "round_id": round_["id"]}


# Leaders' points open around the clock in the round tests, so that a pickup slot later
# today always exists whenever the tests run.
ALL_DAY = {"point_opens": "00:00", "point_closes": "24:00"}


def round_body(
    items: list[tuple[str, int]],
    *,
    starts_in: timedelta = timedelta(hours=-1),
    cutoff_in: timedelta = timedelta(hours=2),
    delivery_in_days: int = 0,
    title: str = "周三团",
) -> dict[str, Any]:
    now = utcnow()
    cutoff = now + cutoff_in
    delivery = cutoff.astimezone(CST).date() + timedelta(days=delivery_in_days)
    return {
        "title": title,
        "starts_at": (now + starts_in).isoformat(),
        "cutoff_at": cutoff.isoformat(),
        "delivery_date": delivery.isoformat(),
        "items": [{"sku_id": sku_id, "round_price": price} for sku_id, price in items],
    }


async def make_round(
    client: httpx.AsyncClient, merchant: Merchant, items: list[tuple[str, int]], **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{merchant.merchant}/leaders/rounds/",
        json=round_body(items, **extra),
        headers=merchant.auth,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def round_order(round_id: str, lines: list[tuple[str, int]], **extra: Any) -> dict[str, Any]:
    """A direct buy of round items; no fulfillment: the store chooses (the buyer's leader)."""
    return {
        "items": [
            {"sku_id": sku_id, "quantity": quantity, "activity": f"leaders:{round_id}"}
            for sku_id, quantity in lines
        ],
        **extra,
    }


def at_point(point_id: str) -> dict[str, Any]:
    return {"fulfillment": "pickup", "fulfillment_data": {"point_id": point_id}}


async def close_round(client: httpx.AsyncClient, merchant: Merchant, round_id: str) -> None:
    closed = await client.post(
        f"{merchant.merchant}/leaders/rounds/{round_id}/close", headers=merchant.auth
    )
    assert closed.status_code == 200, closed.text


async def arrive(
    client: httpx.AsyncClient, merchant: Merchant, leader: LeaderUser, round_id: str
) -> httpx.Response:
    return await client.post(
        f"{merchant.store}/leaders/me/rounds/{round_id}/arrival", headers=leader.auth
    )
