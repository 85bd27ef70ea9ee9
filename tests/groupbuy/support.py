"""Helpers of the group-buy team tests: a store with the plugin on (paying with the sandbox or
the fake WeChat Pay), activities made over the merchant API, teams opened and joined over
the storefront API, and the rows behind them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from core.catalog.models import Sku
from core.db import utcnow
from core.runtime import Runtime
from plugins.groupbuy.models import GroupMember, GroupTeam
from storeplug.testing import Merchant, enable, ensure_plan, onboard
from storeplug.testing.fakes.wechatpay import FakeWeChatPay
from tests.commerce.orders_support import make_sku
from tests.commerce.payments_support import activate_provider, pay, use_sandbox
from tests.flashsale.support import Buyer, buyers

PLAN = "test-groupbuy"
PRICE = 5000
GROUP_PRICE = 2990


@dataclass
class GroupStore:
    merchant: Merchant
    sku: Sku
    activity: dict[str, Any]
    buyers: list[Buyer]


async def group_store(
    client: httpx.AsyncClient,
    rt: Runtime,
    *,
    members: int = 3,
    team_size: int = 3,
    stock: int = 20,
    wechatpay: FakeWeChatPay | None = None,
    plugins: tuple[str, ...] = ("groupbuy",),
    **activity: Any,
) -> GroupStore:
    """A store with the group-buy on, a SKU at ``PRICE`` in a running activity at
    ``GROUP_PRICE`` for teams of ``team_size``, and ``members`` buyers with an address. It
    pays with the fake WeChat Pay when given, else with the sandbox."""
    await ensure_plan(client, PLAN, ["echo", *plugins])
    merchant = await onboard(client, plan=PLAN, plugins=("echo", *plugins))
    for plugin in plugins:
        response = await enable(client, merchant, plugin)
        assert response.status_code == 200, response.text
    if wechatpay is None:
        await use_sandbox(client, merchant)
    else:
        await activate_provider(
            client, merchant, "wechatpay", wechatpay.register_merchant().config()
        )
    sku = await make_sku(rt, merchant, price=PRICE, stock=stock)
    created = await create_activity(client, merchant, sku, team_size=team_size, **activity)
    return GroupStore(merchant, sku, created, await buyers(rt, merchant, members))


def activity_body(sku: Sku, *, team_size: int = 3, **extra: Any) -> dict[str, Any]:
    now = utcnow()
    return {
        "product_id": sku.product_id,
        "title": "三人团",
        "team_size": team_size,
        "time_limit_hours": 24,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(days=7)).isoformat(),
        "items": [{"sku_id": sku.id, "group_price": GROUP_PRICE}],
        "order_limit": 2,
        **extra,
    }


async def create_activity(
    client: httpx.AsyncClient, merchant: Merchant, sku: Sku, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{merchant.merchant}/groupbuy/activities",
        json=activity_body(sku, **extra),
        headers=merchant.auth,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def buy_body(store: GroupStore, buyer: Buyer, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "sku_id": store.sku.id,
        "quantity": quantity,
        "fulfillment": "express",
        "fulfillment_data": {"address_id": buyer.address_id},
        **extra,
    }


async def open_team(
    client: httpx.AsyncClient, store: GroupStore, buyer: Buyer, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{store.merchant.store}/groupbuy/activities/{store.activity['id']}/open",
        json={**buy_body(store, buyer), **body},
        headers={**buyer.auth, "Idempotency-Key": secrets.token_hex(8)},
    )


async def join_team(
    client: httpx.AsyncClient, store: GroupStore, buyer: Buyer, team_id: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{store.merchant.store}/groupbuy/teams/{team_id}/join",
        json={**buy_body(store, buyer), **body},
        headers={**buyer.auth, "Idempotency-Key": secrets.token_hex(8)},
    )


async def placed(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def pay_sandbox(
    client: httpx.AsyncClient, store: GroupStore, buyer: Buyer, order_id: str
) -> None:
    response = await pay(client, store.merchant, buyer, order_id)
    assert response.status_code == 201, response.text


async def pay_wechat(
    client: httpx.AsyncClient,
    store: GroupStore,
    buyer: Buyer,
    order_id: str,
    fake: FakeWeChatPay,
) -> None:
    """Open the WeChat Pay payment and pay it in the fake; its notification settles it."""
    opened = await pay(client, store.merchant, buyer, order_id)
    assert opened.status_code == 201, opened.text
    delivered = await fake.pay(opened.json()["payment_id"])
    assert delivered is not None and delivered.status_code == 204, delivered and delivered.text


async def opened_team(
    client: httpx.AsyncClient, store: GroupStore, leader: Buyer, **body: Any
) -> tuple[str, str]:
    """The leader opens a team and pays (sandbox): (team id, order id)."""
    order = await placed(await open_team(client, store, leader, **body))
    await pay_sandbox(client, store, leader, order["order_id"])
    return order["team_id"], order["order_id"]


async def team_row(rt: Runtime, merchant: Merchant, team_id: str) -> GroupTeam:
    async with rt.db.tenant_session(merchant.id) as session:
        team = await session.get(GroupTeam, (merchant.id, team_id))
    assert team is not None
    return team


async def places(rt: Runtime, merchant: Merchant, team_id: str) -> dict[str, str]:
    """order id -> the place's status."""
    async with rt.db.tenant_session(merchant.id) as session:
        rows = await session.execute(
            select(GroupMember.order_id, GroupMember.status).where(GroupMember.team_id == team_id)
        )
    return {order_id: status for order_id, status in rows.all()}


async def age_team(rt: Runtime, merchant: Merchant, team_id: str) -> None:
    """Move the team's expiry into the past, as if its time limit had run out."""
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(
            update(GroupTeam)
            .where(GroupTeam.id == team_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
