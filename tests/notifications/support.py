"""Helpers of the notification tests: a store connected to the fake WeChat with a template
mapped, members who subscribed from the storefront, and the outbox read back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from core.notifications.models import Notification
from core.notifications.service import notify
from core.runtime import Runtime
from storeplug.testing import Merchant, enable, onboard
from storeplug.testing.fakes.wechat import FakeApp, FakeWeChat, WxMember, connect_store, wx_login

# The echo plugin's test event, mapped to a template of four keys.
ECHO_KEYS = ["thing1", "amount2", "character_string3", "time4"]
ECHO_MAPPING = [
    {"key": "thing1", "field": "name"},
    {"key": "amount2", "field": "amount"},
    {"key": "character_string3", "field": "code"},
    {"key": "time4", "field": "at"},
]


@dataclass
class NoticeStore:
    merchant: Merchant
    app: FakeApp
    template_id: str


async def map_template(
    client: httpx.AsyncClient,
    merchant: Merchant,
    event: str,
    template_id: str,
    keys: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    response = await client.put(
        f"{merchant.merchant}/notifications/templates/{event}",
        json={"template_id": template_id, "keys": keys, **extra},
        headers=merchant.auth,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def echo_store(
    client: httpx.AsyncClient, fake: FakeWeChat, *, kind: str = "one_time"
) -> NoticeStore:
    """A store on the fake WeChat with the echo plugin on and ``echo.greeted`` mapped."""
    merchant = await onboard(client)
    assert (await enable(client, merchant, "echo")).status_code == 200
    app = await connect_store(client, merchant, fake)
    template_id = app.add_template(ECHO_KEYS)
    await map_template(client, merchant, "echo.greeted", template_id, ECHO_MAPPING, kind=kind)
    return NoticeStore(merchant=merchant, app=app, template_id=template_id)


async def subscribe(
    client: httpx.AsyncClient,
    merchant: Merchant,
    app: FakeApp,
    member: WxMember,
    template_id: str,
    *,
    result: str = "accept",
    always: bool = False,
) -> dict[str, Any]:
    """The member taps "allow" in ``wx.requestSubscribeMessage`` (WeChat records it), and
    the mini-program reports the answer to the storefront."""
    if result == "accept":
        app.subscribe(member.openid, template_id, always=always)
    response = await client.post(
        f"{merchant.store}/me/subscriptions",
        json={"results": {"errMsg": "requestSubscribeMessage:ok", template_id: result}},
        headers=member.auth,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def subscribed_member(
    client: httpx.AsyncClient, store: NoticeStore, *, times: int = 1
) -> WxMember:
    member = await wx_login(client, store.merchant, store.app)
    for _ in range(times):
        await subscribe(client, store.merchant, store.app, member, store.template_id)
    return member


async def greet(
    client: httpx.AsyncClient, merchant: Merchant, member_id: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{merchant.merchant}/echo/greetings",
        json={"member_id": member_id, **body},
        headers=merchant.auth,
    )


async def notices(rt: Runtime, merchant: Merchant, **where: Any) -> list[Notification]:
    """The tenant's notices, oldest first, filtered by column values."""
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, merchant.id)
        query = select(Notification).order_by(Notification.id)
        for column, value in where.items():
            query = query.where(getattr(Notification, column) == value)
        return list((await session.scalars(query)).all())


async def notice(rt: Runtime, merchant: Merchant, notification_id: str) -> Notification:
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, merchant.id)
        row = await session.get(Notification, (merchant.id, notification_id))
    assert row is not None
    return row


async def walkable_notification(rt: Runtime, merchant: Merchant, member_id: str) -> str:
    """A failed notice of the store's, for the cross-tenant walk to name."""
    tenant = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        row = await notify(
            ctx, "echo.greeted", member_id=member_id, values={"name": "walk"}, ref="walk"
        )
        assert row is not None
        row.status, row.reason = "failed", "walk"
        return row.id
