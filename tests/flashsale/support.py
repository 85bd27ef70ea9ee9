"""Helpers of the flash sale tests: a store with the plugin on, SKUs, activities created and
published over the merchant API, many members at once, buys, and polling for jobs."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy import func, select

from core.catalog.models import Sku
from core.db import utcnow
from core.idempotency import HEADER
from core.members.models import Address, Member
from core.members.tokens import issue_access_token
from core.orders.models import Order
from core.runtime import Runtime
from plugins.flashsale.models import FlashItem, FlashMember, FlashOrder
from plugins.flashsale.redis_stock import keys_for, stock_on
from storeplug.testing import VENDOR, Merchant, Shopper, enable, ensure_plan, onboard
from tests.commerce.orders_support import make_sku

PLAN = "test-flash"
# Generous rate limits: the races send hundreds of buys from one loopback IP.
OPEN_LIMITS = {"buys_per_member": 1000, "buys_per_ip": 1_000_000}
T = TypeVar("T")


@dataclass
class Buyer(Shopper):
    address_id: str = ""


async def flash_store(client: httpx.AsyncClient, **settings: Any) -> Merchant:
    await ensure_plan(client, PLAN, ["echo", "flashsale"])
    merchant = await onboard(client, plan=PLAN, plugins=("echo", "flashsale"))
    response = await enable(client, merchant, "flashsale", {**OPEN_LIMITS, **settings})
    assert response.status_code == 200, response.text
    return merchant


async def set_settings(client: httpx.AsyncClient, merchant: Merchant, **settings: Any) -> None:
    response = await client.put(
        f"{merchant.merchant}/plugins/flashsale/settings",
        json={"settings": {**OPEN_LIMITS, **settings}},
        headers=merchant.auth,
    )
    assert response.status_code == 200, response.text


async def buyers(rt: Runtime, merchant: Merchant, count: int) -> list[Buyer]:
    """``count`` members with an address each, written in one transaction."""
    async with rt.db.tenant_session(merchant.id) as session:
        members = [
            Member(openid=f"o-{secrets.token_hex(8)}", nickname=f"b{i}") for i in range(count)
        ]
        session.add_all(members)
        await session.flush()
        addresses = [
            Address(
                member_id=m.id,
                name="张三",
                phone="13800000000",
                province="广东省",
                city="深圳市",
                district="南山区",
                detail="科技园1号",
            )
            for m in members
        ]
        session.add_all(addresses)
        await session.flush()
        pairs = [(m.id, a.id) for m, a in zip(members, addresses, strict=True)]
    secret = rt.settings.secret_key
    return [
        Buyer(id=mid, token=issue_access_token(secret, merchant.id, mid)[0], address_id=aid)
        for mid, aid in pairs
    ]


def activity_body(
    skus: list[tuple[Sku, int, int]],
    *,
    starts_in: float = -1,
    lasts: float = 3600,
    member_limit: int = 1,
    order_limit: int = 1,
    **extra: Any,
) -> dict[str, Any]:
    """A sale of (sku, flash price, units) starting ``starts_in`` seconds from now."""
    start = utcnow() + timedelta(seconds=starts_in)
    return {
        "title": "双11秒杀",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(seconds=lasts)).isoformat(),
        "member_limit": member_limit,
        "order_limit": order_limit,
        "items": [
            {"sku_id": sku.id, "flash_price": price, "stock": units} for sku, price, units in skus
        ],
        **extra,
    }


async def create_activity(
    client: httpx.AsyncClient, merchant: Merchant, body: dict[str, Any], publish: bool = True
) -> dict[str, Any]:
    url = f"{merchant.merchant}/flashsale/activities"
    response = await client.post(url, json=body, headers=merchant.auth)
    assert response.status_code == 201, response.text
    activity: dict[str, Any] = response.json()
    if publish:
        response = await client.post(f"{url}/{activity['id']}/publish", headers=merchant.auth)
        assert response.status_code == 200, response.text
        activity = response.json()
    return activity


async def sale(
    client: httpx.AsyncClient,
    rt: Runtime,
    merchant: Merchant,
    *,
    units: int,
    sku_stock: int | None = None,
    price: int = 9900,
    flash_price: int = 990,
    **options: Any,
) -> tuple[Sku, dict[str, Any]]:
    sku = await make_sku(rt, merchant, price=price, stock=sku_stock or units + 10)
    activity = await create_activity(
        client, merchant, activity_body([(sku, flash_price, units)], **options)
    )
    return sku, activity


async def buy(
    client: httpx.AsyncClient,
    merchant: Merchant,
    buyer: Buyer,
    activity_id: str,
    sku_id: str,
    quantity: int = 1,
    key: str | None = "",
) -> httpx.Response:
    headers = dict(buyer.auth)
    if key is not None:
        headers[HEADER] = key or secrets.token_hex(8)
    body = {
        "sku_id": sku_id,
        "quantity": quantity,
        "fulfillment": "express",
        "fulfillment_data": {"address_id": buyer.address_id},
    }
    return await client.post(
        f"{merchant.store}/flashsale/{activity_id}/buy", json=body, headers=headers
    )


@dataclass
class Truth:
    """What the database holds for one SKU of an activity."""

    stock: int
    sold: int
    held_orders: int
    pending_orders: int
    over_limit: int  # members whose count passes the limit
    sku_stock: int


async def truth(
    rt: Runtime, merchant: Merchant, activity_id: str, sku_id: str, limit: int
) -> Truth:
    async with rt.db.tenant_session(merchant.id) as session:
        item = await session.scalar(
            select(FlashItem).where(
                FlashItem.activity_id == activity_id, FlashItem.sku_id == sku_id
            )
        )
        assert item is not None
        held = await session.scalar(
            select(func.coalesce(func.sum(FlashOrder.quantity), 0)).where(
                FlashOrder.activity_id == activity_id, FlashOrder.status.in_(("held", "paid"))
            )
        )
        pending = await session.scalar(
            select(func.count()).select_from(Order).where(Order.status == "pending_payment")
        )
        over = await session.scalar(
            select(func.count())
            .select_from(FlashMember)
            .where(FlashMember.activity_id == activity_id, FlashMember.bought > limit)
        )
        sku_stock = await session.scalar(select(Sku.stock).where(Sku.id == sku_id))
    return Truth(
        stock=item.stock,
        sold=item.sold,
        held_orders=int(held or 0),
        pending_orders=int(pending or 0),
        over_limit=int(over or 0),
        sku_stock=int(sku_stock or 0),
    )


async def redis_view(
    rt: Runtime, merchant: Merchant, activity_id: str
) -> tuple[dict[str, int], dict[str, int]] | None:
    assert rt.redis is not None
    return await stock_on(rt.redis).snapshot(keys_for(merchant.id, activity_id))


async def flush_keys(rt: Runtime, merchant: Merchant, activity_id: str) -> None:
    assert rt.redis is not None
    keys = keys_for(merchant.id, activity_id)
    await rt.redis.delete(*keys.state)


@dataclass
class Answer:
    """One response of a burst: its status and JSON body."""

    status_code: int
    body: dict[str, Any]

    def json(self) -> dict[str, Any]:
        return self.body

    @property
    def text(self) -> str:
        return str(self.body)


async def burst(
    base_url: str, merchant: Merchant, activity_id: str, sku_id: str, plan: list[Buyer]
) -> list[Answer]:
    """Every buy of ``plan`` sent at once over real HTTP from another process
    (tests/flashsale/burst.py), each with an Idempotency-Key of its own."""
    requests = [
        {
            "path": f"{merchant.store}/flashsale/{activity_id}/buy",
            "headers": {**buyer.auth, HEADER: f"burst-{i}"},
            "json": {
                "sku_id": sku_id,
                "quantity": 1,
                "fulfillment": "express",
                "fulfillment_data": {"address_id": buyer.address_id},
            },
        }
        for i, buyer in enumerate(plan)
    ]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.flashsale.burst",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    payload = json.dumps({"base_url": base_url, "requests": requests}).encode()
    out, _ = await process.communicate(payload)
    assert process.returncode == 0
    return [Answer(status, body) for status, body in json.loads(out)]


async def walkable_activity(client: httpx.AsyncClient, merchant: Merchant, sku_id: str) -> str:
    """For tests/e2e/test_id_walk.py: move ``merchant`` to a plan with the flash sale, switch
    it on and publish a sale of ``sku_id``; the id its routes take."""
    await ensure_plan(client, PLAN, ["echo", "flashsale"])
    moved = await client.patch(
        f"/vendor/v1/tenants/{merchant.slug}", json={"plan": PLAN}, headers=VENDOR
    )
    assert moved.status_code == 200, moved.text
    on = await enable(client, merchant, "flashsale", OPEN_LIMITS)
    assert on.status_code == 200, on.text
    start = utcnow() - timedelta(seconds=1)
    body = {
        "title": "walk",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
        "items": [{"sku_id": sku_id, "flash_price": 1, "stock": 1}],
    }
    url = f"{merchant.merchant}/flashsale/activities"
    created = await client.post(url, json=body, headers=merchant.auth)
    assert created.status_code == 201, created.text
    activity_id: str = created.json()["id"]
    published = await client.post(f"{url}/{activity_id}/publish", headers=merchant.auth)
    assert published.status_code == 200, published.text
    return activity_id
