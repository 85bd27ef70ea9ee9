"""Helpers of the group-buy merchant API and storefront tests: a store with the plugin on,
activities made over the merchant API, and teams written straight to the database (the
buying flow has tests of its own), with real orders behind their places."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from core.catalog.models import Product, Sku
from core.db import utcnow
from core.members.models import Member
from core.members.tokens import issue_access_token
from core.orders.models import Order
from core.runtime import Runtime
from plugins.groupbuy.models import GroupMember, GroupTeam
from storeplug.testing import VENDOR, Merchant, Shopper, enable, ensure_plan, onboard
from tests.commerce.orders_support import insert_order

PLAN = "test-groupbuy-views"


async def gb_store(client: httpx.AsyncClient, **settings: Any) -> Merchant:
    """A store whose plan includes the group-buy, with it switched on."""
    await ensure_plan(client, PLAN, ["echo", "groupbuy"])
    merchant = await onboard(client, plan=PLAN, plugins=("echo", "groupbuy"))
    response = await enable(client, merchant, "groupbuy", settings)
    assert response.status_code == 200, response.text
    return merchant


def body(
    skus: list[tuple[Sku, int]],
    *,
    starts_in: float = -60,
    lasts: float = 7 * 86400,
    product_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An activity of (sku, group price) starting ``starts_in`` seconds from now."""
    start = utcnow() + timedelta(seconds=starts_in)
    return {
        "product_id": product_id or skus[0][0].product_id,
        "title": "三人团",
        "team_size": 3,
        "time_limit_hours": 24,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(seconds=lasts)).isoformat(),
        "items": [{"sku_id": sku.id, "group_price": price} for sku, price in skus],
        **extra,
    }


async def create(
    client: httpx.AsyncClient, merchant: Merchant, data: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        f"{merchant.merchant}/groupbuy/activities", json=data, headers=merchant.auth
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def add_sku(
    rt: Runtime, merchant: Merchant, product_id: str, *, price: int, specs: dict[str, str]
) -> Sku:
    """A second SKU of a product (``make_sku`` makes a product per SKU), keeping the
    product's ``min_price`` the lowest of its SKUs' as the catalog does."""
    async with rt.db.tenant_session(merchant.id) as session:
        sku = Sku(product_id=product_id, specs=specs, price=price, stock=50)
        session.add(sku)
        product = await session.get(Product, (merchant.id, product_id))
        assert product is not None
        product.min_price = min(product.min_price, price)
        await session.flush()
        session.expunge(sku)
    return sku


async def people(rt: Runtime, merchant: Merchant, count: int) -> list[Shopper]:
    """Members with everything a share page must not show: a phone, an openid."""
    async with rt.db.tenant_session(merchant.id) as session:
        members = [
            Member(
                openid=f"o-{secrets.token_hex(8)}",
                phone=f"1390000{i:04d}",
                nickname=f"团员{i}",
                avatar_url=f"https://img.example/a{i}.png",
            )
            for i in range(count)
        ]
        session.add_all(members)
        await session.flush()
        ids = [m.id for m in members]
    secret = rt.settings.secret_key
    return [Shopper(id=mid, token=issue_access_token(secret, merchant.id, mid)[0]) for mid in ids]


@dataclass
class Place:
    """One order's place in a seeded team. ``refunded`` fen are recorded as given back."""

    member: Shopper
    status: str = "paid"  # held | paid | released | left | failed
    leader: bool = False
    quantity: int = 1
    refunded: int = 0
    had_paid: bool = True  # for failed, released or left places: whether it was paid first


def was_paid(place: Place) -> bool:
    return place.status in ("paid", "left") or (place.status == "failed" and place.had_paid)


def counts_as_paid(place: Place) -> bool:
    """In the team's ``paid`` count: those who left were taken off it."""
    return place.status == "paid" or (place.status == "failed" and place.had_paid)


@dataclass
class Seeded:
    id: str
    order_ids: list[str] = field(default_factory=list)


async def seed_team(
    rt: Runtime,
    merchant: Merchant,
    activity: dict[str, Any],
    sku: Sku,
    places: list[Place],
    *,
    status: str = "forming",
    size: int | None = None,
    expires_in: float = 3600,
    placeholders: int = 0,
) -> Seeded:
    """A team of ``activity`` as the buying flow would leave it, its counts computed from
    ``places``, each place with an order of ``sku`` (paid orders paid, refunds recorded)."""
    now = utcnow()
    paid = len([p for p in places if counts_as_paid(p)])
    orders = []
    for place in places:
        order_status = "paid" if was_paid(place) else "pending_payment"
        if place.status == "released":
            order_status = "cancelled"
        order_id = await insert_order(
            rt, merchant, place.member.id, sku, status=order_status, quantity=place.quantity
        )
        if place.refunded:
            full = place.refunded >= sku.price * place.quantity
            async with rt.db.tenant_session(merchant.id) as session:
                await session.execute(
                    update(Order)
                    .where(Order.id == order_id)
                    .values(
                        refund_held=place.refunded,
                        refunded_amount=place.refunded,
                        status="refunded" if full else order_status,
                    )
                )
        orders.append(order_id)
    leader = next(p for p in places if p.leader)
    opened = status not in ("opening", "cancelled")
    async with rt.db.tenant_session(merchant.id) as session:
        team = GroupTeam(
            activity_id=activity["id"],
            product_id=activity["product_id"],
            leader_id=leader.member.id,
            status=status,
            size=size or activity["team_size"],
            # A closed team keeps the counts it had when it closed.
            seats=max(len([p for p in places if p.status in ("held", "paid")]), paid),
            paid=paid,
            placeholders=placeholders,
            time_limit_minutes=activity["time_limit_hours"] * 60,
            opened_at=now - timedelta(minutes=5) if opened else None,
            expires_at=now + timedelta(seconds=expires_in) if opened else None,
            closed_at=now if status in ("succeeded", "failed", "cancelled") else None,
        )
        session.add(team)
        await session.flush()
        for i, (place, order_id) in enumerate(zip(places, orders, strict=True)):
            # Each place a millisecond after the one before: the order they came in.
            at = now + timedelta(milliseconds=i)
            open_place = status in ("opening", "forming") and place.status in ("held", "paid")
            session.add(
                GroupMember(
                    team_id=team.id,
                    activity_id=activity["id"],
                    member_id=place.member.id,
                    order_id=order_id,
                    sku_id=sku.id,
                    quantity=place.quantity,
                    is_leader=place.leader,
                    status=place.status,
                    open_activity=activity["id"] if open_place else None,
                    created_at=at,
                    paid_at=at if was_paid(place) else None,
                )
            )
        team_id = team.id
    return Seeded(id=team_id, order_ids=orders)


async def walkable_groupbuy(
    client: httpx.AsyncClient, rt: Runtime, merchant: Merchant, sku_id: str
) -> dict[str, str]:
    """For tests/e2e/test_id_walk.py: add the group-buy to ``merchant``'s plan (keeping the
    plan's other plugins), switch it on, put ``sku_id`` in a running activity and seed a
    forming team; the ids its routes take (``groupbuy.activity_id``, ``team_id``)."""
    tenant = await client.get(f"/vendor/v1/tenants/{merchant.slug}", headers=VENDOR)
    plans = (await client.get("/vendor/v1/plans/", headers=VENDOR)).json()
    current = next(p for p in plans if p["code"] == tenant.json()["plan"])
    plugins = sorted({*current["plugins"], "groupbuy"})
    code = "test-walk-gb-" + "-".join(name[:3] for name in plugins)  # codes are <= 40 long
    await ensure_plan(client, code, plugins)
    moved = await client.patch(
        f"/vendor/v1/tenants/{merchant.slug}", json={"plan": code}, headers=VENDOR
    )
    assert moved.status_code == 200, moved.text
    assert (await enable(client, merchant, "groupbuy")).status_code == 200
    async with rt.db.tenant_session(merchant.id) as session:
        sku = await session.get(Sku, (merchant.id, sku_id))
        assert sku is not None
        session.expunge(sku)
    activity = await create(client, merchant, body([(sku, 1)], title="walk"))
    [leader] = await people(rt, merchant, 1)
    team = await seed_team(rt, merchant, activity, sku, [Place(leader, leader=True)])
    return {"groupbuy.activity_id": activity["id"], "team_id": team.id}
