"""The sender against the fake WeChat: delivered with the right openid, template and data;
skipped without a subscription or on 43101 and never retried; the token refreshed once on
40001; busy and quota answers retried with backoff, then failed; bad data failed with
WeChat's reason; and a notice claimed once however many workers try."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import update

from core.db import utcnow
from core.notifications import sender
from core.notifications.models import Notification, NotificationSubscription
from core.runtime import Runtime
from storeplug.testing import Merchant, eventually
from storeplug.testing.fakes.wechat import FakeWeChat, wx_login
from tests.notifications.support import (
    ECHO_MAPPING,
    NoticeStore,
    echo_store,
    greet,
    map_template,
    notice,
    subscribe,
    subscribed_member,
)
from tests.notifications.test_fields import LONG_NAME


async def _settled(rt: Runtime, merchant: Merchant, notification_id: str, status: str) -> None:
    async def check() -> bool:
        return (await notice(rt, merchant, notification_id)).status == status

    await eventually(check, what=f"notice {notification_id} {status}")


async def _greeted(
    client: httpx.AsyncClient, store: NoticeStore, member_id: str, **body: object
) -> str:
    response = await greet(client, store.merchant, member_id, **body)
    assert response.status_code == 201, response.text
    notification_id: str = response.json()["id"]
    return notification_id


async def _remaining(rt: Runtime, merchant: Merchant, member_id: str, template_id: str) -> int:
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, merchant.id)
        row = await session.get(NotificationSubscription, (merchant.id, member_id, template_id))
    return row.remaining if row is not None else 0


async def _due_now(rt: Runtime, merchant: Merchant, notification_id: str) -> None:
    """Time passes: the retry's backoff is over."""
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(
            update(Notification)
            .where(Notification.id == notification_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def _deliver(rt: Runtime, merchant: Merchant, notification_id: str) -> str:
    tenant = await rt.tenants.resolve(merchant.slug)
    return await sender.deliver(rt, tenant, notification_id)


async def test_sent_with_the_openid_template_and_fitted_data(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await echo_store(client, fake_wechat)
    member = await subscribed_member(client, store)
    notification_id = await _greeted(client, store, member.id, name=LONG_NAME, amount=2599)
    await _settled(rt, store.merchant, notification_id, "sent")
    [message] = store.app.messages
    assert (message.touser, message.template_id) == (member.openid, store.template_id)
    assert message.page == "pages/echo/index?code=E123"
    assert (message.miniprogram_state, message.lang) == ("formal", "zh_CN")
    thing = message.data["thing1"]
    assert thing.endswith("…") and LONG_NAME.startswith(thing[:-1]) and len(thing) <= 20
    assert message.data["amount2"] == "¥25.99"
    assert message.data["character_string3"] == "E123"
    assert "年" in message.data["time4"]
    row = await notice(rt, store.merchant, notification_id)
    assert (row.attempts, row.errcode, row.template_id) == (1, 0, store.template_id)
    assert row.sent_at is not None
    assert {k: v["value"] for k, v in row.data.items()} == message.data
    # The one-time subscription was used by the send.
    assert await _remaining(rt, store.merchant, member.id, store.template_id) == 0
    # The job again (a retry, a second worker): nothing more is sent.
    assert await sender.send(rt, store.merchant.id, notification_id) == "sent"
    assert len(store.app.messages) == 1


async def test_without_a_subscription_nothing_is_sent(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await echo_store(client, fake_wechat)
    member = await wx_login(client, store.merchant, store.app)
    notification_id = await _greeted(client, store, member.id)
    await _settled(rt, store.merchant, notification_id, "skipped")
    row = await notice(rt, store.merchant, notification_id)
    assert row.reason == "no subscription"
    assert store.app.send_requests == 0


async def test_43101_is_skipped_and_not_retried(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await echo_store(client, fake_wechat)
    member = await wx_login(client, store.merchant, store.app)
    # The storefront says "accept", but WeChat holds nothing for the user (they revoked it).
    await subscribe(client, store.merchant, store.app, member, store.template_id, result="accept")
    store.app.quota.clear()
    notification_id = await _greeted(client, store, member.id)
    await _settled(rt, store.merchant, notification_id, "skipped")
    row = await notice(rt, store.merchant, notification_id)
    assert row.errcode == 43101 and "43101" in row.reason and row.attempts == 1
    assert store.app.send_requests == 1
    assert await _remaining(rt, store.merchant, member.id, store.template_id) == 0
    await _due_now(rt, store.merchant, notification_id)
    assert await _deliver(rt, store.merchant, notification_id) == "skipped"
    assert await sender.sweep_tenant(rt, await rt.tenants.resolve(store.merchant.slug)) == 0
    assert store.app.send_requests == 1


async def test_40001_refreshes_the_token_once_and_sends(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await echo_store(client, fake_wechat)
    member = await subscribed_member(client, store, times=2)
    first = await _greeted(client, store, member.id)
    await _settled(rt, store.merchant, first, "sent")
    tokens = store.app.token_requests
    fake_wechat.revoke_tokens(store.app.appid)  # another server fetched a newer token
    second = await _greeted(client, store, member.id)
    await _settled(rt, store.merchant, second, "sent")
    assert store.app.token_requests == tokens + 1
    assert len(store.app.messages) == 2
    assert (await notice(rt, store.merchant, second)).attempts == 1


async def test_busy_is_retried_with_backoff_and_the_subscription_kept(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await echo_store(client, fake_wechat)
    member = await subscribed_member(client, store)
    store.app.fail_next_send(-1)
    notification_id = await _greeted(client, store, member.id)

    async def waiting() -> Notification:
        row = await notice(rt, store.merchant, notification_id)
        assert (row.status, row.attempts) == ("pending", 1)
        return row

    row = await eventually(waiting, what="the first attempt to fail")
    assert row.errcode == -1 and "busy" in row.reason
    assert row.next_attempt_at > utcnow() + timedelta(seconds=20)  # 30 s of backoff
    assert await _remaining(rt, store.merchant, member.id, store.template_id) == 1
    # Not due yet: a job that runs early does nothing.
    assert await _deliver(rt, store.merchant, notification_id) == "pending"
    await _due_now(rt, store.merchant, notification_id)
    assert await _deliver(rt, store.merchant, notification_id) == "sent"
    assert (await notice(rt, store.merchant, notification_id)).attempts == 2
    assert len(store.app.messages) == 1


async def test_quota_answers_give_up_after_the_last_attempt(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await echo_store(client, fake_wechat)
    member = await subscribed_member(client, store)
    for _ in range(sender.MAX_ATTEMPTS):
        store.app.fail_next_send(45009)
    notification_id = await _pending(rt, store, member.id)
    delays = []
    for attempt in range(1, sender.MAX_ATTEMPTS + 1):
        status = await _deliver(rt, store.merchant, notification_id)
        row = await notice(rt, store.merchant, notification_id)
        assert row.attempts == attempt
        if status == "pending":
            delays.append(round((row.next_attempt_at - row.updated_at).total_seconds()))
            await _due_now(rt, store.merchant, notification_id)
    assert status == "failed"
    assert delays == [30, 60, 120, 240]
    assert row.errcode == 45009
    assert row.reason.startswith(f"gave up after {sender.MAX_ATTEMPTS} attempts")
    assert "daily quota" in row.reason
    assert store.app.messages == []
    assert await _remaining(rt, store.merchant, member.id, store.template_id) == 1


async def _pending(rt: Runtime, store: NoticeStore, member_id: str) -> str:
    """A pending notice written straight into the outbox: no job was queued for it, so the
    test drives the sender itself."""
    async with rt.db.tenant_session(store.merchant.id) as session:
        row = Notification(
            event="echo.greeted",
            member_id=member_id,
            values={
                "name": "拿铁",
                "amount": "¥12.50",
                "code": "E123",
                "at": "2026年11月23日 14:30",
            },
        )
        session.add(row)
        await session.flush()
        return row.id


async def test_two_workers_at_once_send_once(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await echo_store(client, fake_wechat)
    member = await subscribed_member(client, store, times=3)
    notification_id = await _pending(rt, store, member.id)
    results = await asyncio.gather(
        *(_deliver(rt, store.merchant, notification_id) for _ in range(4))
    )
    assert results.count("sent") >= 1 and set(results) <= {"sent", "sending"}
    await _settled(rt, store.merchant, notification_id, "sent")
    assert len(store.app.messages) == 1
    assert await _remaining(rt, store.merchant, member.id, store.template_id) == 2


async def test_two_notices_racing_for_the_last_subscription(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await echo_store(client, fake_wechat)
    member = await subscribed_member(client, store)
    first, second = await _pending(rt, store, member.id), await _pending(rt, store, member.id)
    results = sorted(
        await asyncio.gather(
            _deliver(rt, store.merchant, first), _deliver(rt, store.merchant, second)
        )
    )
    assert results == ["sent", "skipped"]
    assert len(store.app.messages) == 1


async def test_bad_data_fails_with_wechats_reason_and_a_fixed_template_retries(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await echo_store(client, fake_wechat)
    member = await subscribed_member(client, store)
    # The merchant forgot a key of the template: WeChat answers 47003 naming it.
    await map_template(client, store.merchant, "echo.greeted", store.template_id, ECHO_MAPPING[:3])
    notification_id = await _greeted(client, store, member.id)
    await _settled(rt, store.merchant, notification_id, "failed")
    shown = await client.get(
        f"{store.merchant.merchant}/notifications/{notification_id}", headers=store.merchant.auth
    )
    assert shown.json()["errcode"] == 47003
    assert "data.time4.value is empty" in shown.json()["reason"]
    assert await _remaining(rt, store.merchant, member.id, store.template_id) == 1
    await map_template(client, store.merchant, "echo.greeted", store.template_id, ECHO_MAPPING)
    retried = await client.post(
        f"{store.merchant.merchant}/notifications/{notification_id}/retry",
        headers=store.merchant.auth,
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending" and retried.json()["attempts"] == 0
    await _settled(rt, store.merchant, notification_id, "sent")
    assert len(store.app.messages) == 1


async def test_a_wrong_template_id_fails_with_the_reason(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await echo_store(client, fake_wechat)
    member = await subscribed_member(client, store)
    await map_template(
        client, store.merchant, "echo.greeted", "not-a-template-of-this-app", ECHO_MAPPING
    )
    await subscribe(client, store.merchant, store.app, member, "not-a-template-of-this-app")
    notification_id = await _greeted(client, store, member.id)
    await _settled(rt, store.merchant, notification_id, "failed")
    row = await notice(rt, store.merchant, notification_id)
    assert row.errcode == 40037 and "template id" in row.reason


async def test_a_long_term_subscription_is_not_used_up(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await echo_store(client, fake_wechat, kind="long_term")
    member = await wx_login(client, store.merchant, store.app)
    answered = await subscribe(
        client, store.merchant, store.app, member, store.template_id, always=True
    )
    assert answered["items"][0]["always"] is True
    ids = [await _greeted(client, store, member.id) for _ in range(3)]
    for notification_id in ids:
        await _settled(rt, store.merchant, notification_id, "sent")
    assert len(store.app.messages) == 3
    # The user turns it off in WeChat's settings: the next one is skipped (43101).
    store.app.always.clear()
    last = await _greeted(client, store, member.id)
    await _settled(rt, store.merchant, last, "skipped")
    mine = await client.get(f"{store.merchant.store}/me/subscriptions", headers=member.auth)
    assert mine.json()["items"][0]["always"] is False


async def test_a_claim_left_by_a_dead_worker_is_given_up(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await echo_store(client, fake_wechat)
    member = await subscribed_member(client, store)
    notification_id = await _pending(rt, store, member.id)
    async with rt.db.tenant_session(store.merchant.id) as session:
        await session.execute(
            update(Notification)
            .where(Notification.id == notification_id)
            .values(status="sending", attempts=1, claimed_at=utcnow() - timedelta(minutes=11))
        )
    tenant = await rt.tenants.resolve(store.merchant.slug)
    assert await sender.sweep_tenant(rt, tenant) == 1
    row = await notice(rt, store.merchant, notification_id)
    assert row.status == "failed" and "may or may not have delivered" in row.reason
    assert await _deliver(rt, store.merchant, notification_id) == "failed"
    assert store.app.send_requests == 0


async def test_the_sweep_queues_a_notice_whose_job_was_lost(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await echo_store(client, fake_wechat)
    member = await subscribed_member(client, store)
    notification_id = await _pending(rt, store, member.id)
    await _due_now(rt, store.merchant, notification_id)
    async with rt.db.tenant_session(store.merchant.id) as session:
        await session.execute(
            update(Notification)
            .where(Notification.id == notification_id)
            .values(next_attempt_at=utcnow() - timedelta(minutes=5))
        )
    tenant = await rt.tenants.resolve(store.merchant.slug)
    assert await sender.sweep_tenant(rt, tenant) == 1
    await _settled(rt, store.merchant, notification_id, "sent")
    assert len(store.app.messages) == 1
