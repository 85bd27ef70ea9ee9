"""Helpers of the share coupon tests: a store with the plugin on (WeChat login through the
fake, payments through the sandbox), campaigns made over the merchant API, packs unlocked by
paid orders, shared and claimed over the storefront API, and the rows behind them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from core.catalog.models import Sku
from core.coupons.models import MemberCoupon
from core.runtime import Runtime
from plugins.sharecoupon.models import ShareClaim, SharePack
from storeplug.testing import VENDOR, Merchant, enable, ensure_plan, onboard
from storeplug.testing.fakes.wechat import FakeApp, FakeWeChat, connect_store
from tests.commerce.coupons_support import make_template
from tests.commerce.orders_support import make_sku, place
from tests.commerce.payments_support import pay, use_sandbox
from tests.flashsale.support import Buyer, buyers

PLAN = "test-sharecoupon"
PRICE = 12000  # fen: one unit is over the threshold
THRESHOLD = 10000
COUPON_OFF = 1000


@dataclass
class ShareStore:
    merchant: Merchant
    app: FakeApp
    sku: Sku
    template: dict[str, Any]  # the friends' coupon
    campaign: dict[str, Any]


async def share_store(
    client: httpx.AsyncClient,
    rt: Runtime,
    fake_wechat: FakeWeChat,
    *,
    plugins: tuple[str, ...] = ("sharecoupon",),
    **campaign: Any,
) -> ShareStore:
    """A store with the share coupon on, WeChat login, the sandbox, a SKU at ``PRICE`` and a
    running campaign (packs of 5 for orders of at least ``THRESHOLD``) changed by
    ``campaign``."""
    await ensure_plan(client, PLAN, ["echo", "sharecoupon", "points"])
    merchant = await onboard(client, plan=PLAN, plugins=("echo", "sharecoupon", "points"))
    for plugin in plugins:
        response = await enable(client, merchant, plugin)
        assert response.status_code == 200, response.text
    await use_sandbox(client, merchant)
    app = await connect_store(client, merchant, fake_wechat)
    sku = await make_sku(rt, merchant, price=PRICE, stock=1000)
    template = await make_template(
        client, merchant, "fixed", amount=COUPON_OFF, claimable=False, name="好友立减"
    )
    created = await create_campaign(client, merchant, template["id"], **campaign)
    return ShareStore(merchant, app, sku, template, created)


def campaign_body(template_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": "分享立减金",
        "template_id": template_id,
        "pack_size": 5,
        "min_order_amount": THRESHOLD,
        **extra,
    }


async def create_campaign(
    client: httpx.AsyncClient, merchant: Merchant, template_id: str, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{merchant.merchant}/sharecoupon/campaigns",
        json=campaign_body(template_id, **extra),
        headers=merchant.auth,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def people(rt: Runtime, store: ShareStore, count: int) -> list[Buyer]:
    return await buyers(rt, store.merchant, count)


async def paid_order(
    client: httpx.AsyncClient,
    store: ShareStore,
    buyer: Buyer,
    quantity: int = 1,
    coupon_id: str | None = None,
) -> str:
    """An order of ``quantity`` units placed and paid in the sandbox: its id."""
    options: dict[str, Any] = {"coupon_id": coupon_id} if coupon_id else {"coupon_id": "none"}
    body = {
        "items": [{"sku_id": store.sku.id, "quantity": quantity}],
        "fulfillment": "express",
        "fulfillment_data": {"address_id": buyer.address_id},
        "options": options,
    }
    placed = await place(client, store.merchant, buyer, body)
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["id"]
    paid = await pay(client, store.merchant, buyer, order_id)
    assert paid.status_code == 201, paid.text
    assert paid.json()["order_status"] == "paid", paid.text
    return order_id


async def pack_of(
    client: httpx.AsyncClient, store: ShareStore, buyer: Buyer, order_id: str
) -> httpx.Response:
    return await client.get(
        f"{store.merchant.store}/sharecoupon/orders/{order_id}/pack", headers=buyer.auth
    )


async def shared_pack(
    client: httpx.AsyncClient, store: ShareStore, buyer: Buyer, order_id: str
) -> tuple[str, str]:
    """The order's pack, shared: (pack id, share token)."""
    found = await pack_of(client, store, buyer, order_id)
    assert found.status_code == 200, found.text
    pack_id: str = found.json()["id"]
    share = await client.post(
        f"{store.merchant.store}/sharecoupon/packs/{pack_id}/share", headers=buyer.auth
    )
    assert share.status_code == 200, share.text
    token: str = share.json()["token"]
    return pack_id, token


async def claim(
    client: httpx.AsyncClient, store: ShareStore, friend: Any, token: str
) -> httpx.Response:
    return await client.post(
        f"{store.merchant.store}/sharecoupon/shares/{token}/claim", headers=friend.auth
    )


async def pack_row(rt: Runtime, merchant: Merchant, pack_id: str) -> SharePack:
    async with rt.db.tenant_session(merchant.id) as session:
        pack = await session.get(SharePack, (merchant.id, pack_id))
    assert pack is not None
    return pack


async def coupons_issued(rt: Runtime, merchant: Merchant, pack_id: str) -> tuple[int, int, int]:
    """(claim rows, distinct coupons behind them, the plugin's coupons in the store)."""
    async with rt.db.tenant_session(merchant.id) as session:
        claims, distinct = (
            await session.execute(
                select(func.count(), func.count(func.distinct(ShareClaim.coupon_id))).where(
                    ShareClaim.pack_id == pack_id
                )
            )
        ).one()
        plugin_coupons = await session.scalar(
            select(func.count())
            .select_from(MemberCoupon)
            .where(MemberCoupon.source == "sharecoupon")
        )
    return int(claims), int(distinct), int(plugin_coupons or 0)


async def walkable_sharecoupon(
    client: httpx.AsyncClient, rt: Runtime, merchant: Merchant, sku_id: str, template_id: str
) -> dict[str, str]:
    """For tests/e2e/test_id_walk.py: add the share coupon to ``merchant``'s plan (keeping
    the plan's other plugins), switch it on, and a campaign with one pack, shared; the ids
    its routes take."""
    tenant = await client.get(f"/vendor/v1/tenants/{merchant.slug}", headers=VENDOR)
    plans = (await client.get("/vendor/v1/plans/", headers=VENDOR)).json()
    current = next(p for p in plans if p["code"] == tenant.json()["plan"])
    plugins = sorted({*current["plugins"], "sharecoupon"})
    code = "test-walk-sc-" + "-".join(name[:3] for name in plugins)
    await ensure_plan(client, code, plugins)
    moved = await client.patch(
        f"/vendor/v1/tenants/{merchant.slug}", json={"plan": code}, headers=VENDOR
    )
    assert moved.status_code == 200, moved.text
    assert (await enable(client, merchant, "sharecoupon")).status_code == 200
    campaign = await create_campaign(client, merchant, template_id, min_order_amount=0, pack_size=3)
    [sharer] = await buyers(rt, merchant, 1)
    placed = await place(
        client,
        merchant,
        sharer,
        {
            "items": [{"sku_id": sku_id, "quantity": 1}],
            "fulfillment_data": {"address_id": sharer.address_id},
        },
        key=secrets.token_hex(8),
    )
    assert placed.status_code == 201, placed.text
    assert (await pay(client, merchant, sharer, placed.json()["id"])).status_code == 201
    pack = await client.get(
        f"{merchant.store}/sharecoupon/orders/{placed.json()['id']}/pack", headers=sharer.auth
    )
    assert pack.status_code == 200, pack.text
    share = await client.post(
        f"{merchant.store}/sharecoupon/packs/{pack.json()['id']}/share", headers=sharer.auth
    )
    assert share.status_code == 200, share.text
    return {
        "campaign_id": campaign["id"],
        "pack_id": pack.json()["id"],
        "share_token": share.json()["token"],
    }
