"""The merchant's side (events, templates, "send a test", the delivery log, retry, counts)
and the storefront's (which templates to ask for, what the member answered)."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from storeplug.testing import eventually, make_member, new_staff, onboard, problem
from storeplug.testing.fakes.wechat import FakeWeChat, wx_login
from tests.notifications.support import (
    ECHO_MAPPING,
    echo_store,
    greet,
    notice,
    subscribe,
    subscribed_member,
)


async def test_events_list_the_core_and_enabled_plugins_with_their_templates(
    client: httpx.AsyncClient, fake_wechat: FakeWeChat
) -> None:
    store = await echo_store(client, fake_wechat)
    m, auth = store.merchant.merchant, store.merchant.auth
    events = {
        e["name"]: e for e in (await client.get(f"{m}/notifications/events", headers=auth)).json()
    }
    greeted = events["echo.greeted"]
    assert greeted["owner"] == "echo" and greeted["page"] == "pages/echo/index?code={code}"
    assert [f["name"] for f in greeted["fields"]] == ["name", "amount", "code", "at"]
    assert greeted["template"]["template_id"] == store.template_id
    assert greeted["template"]["keys"][0] == {"key": "thing1", "field": "name", "text": None}
    # A plugin the store has off: its events are not offered.
    other = await onboard(client)
    names = [
        e["name"]
        for e in (
            await client.get(f"{other.merchant}/notifications/events", headers=other.auth)
        ).json()
    ]
    assert "echo.greeted" not in names
    problem(
        await client.put(
            f"{other.merchant}/notifications/templates/echo.greeted",
            json={"template_id": "t1", "keys": ECHO_MAPPING},
            headers=other.auth,
        ),
        404,
        "notification.unknown_event",
    )


async def test_a_template_must_fit_its_event(
    client: httpx.AsyncClient, fake_wechat: FakeWeChat
) -> None:
    store = await echo_store(client, fake_wechat)
    url = f"{store.merchant.merchant}/notifications/templates/echo.greeted"
    body = problem(
        await client.put(
            url,
            json={
                "template_id": "t1",
                "keys": [
                    {"key": "colour1", "field": "name"},
                    {"key": "thing2", "field": "nope"},
                    {"key": "thing3", "field": "name", "text": "both"},
                    {"key": "thing2", "text": "twice"},
                ],
                "page": "pages/x?id={order_id}",
            },
            headers=store.merchant.auth,
        ),
        400,
        "request.invalid",
    )
    assert {e["field"] for e in body["errors"]} == {
        "keys[0].key",
        "keys[1].field",
        "keys[2]",
        "keys[3].key",
        "page",
    }
    problem(
        await client.put(
            url, json={"template_id": "bad id!", "keys": ECHO_MAPPING}, headers=store.merchant.auth
        ),
        400,
        "request.invalid",
    )
    clerk = await new_staff(client, store.merchant, "clerk")
    problem(
        await client.put(url, json={"template_id": "t1", "keys": ECHO_MAPPING}, headers=clerk.auth),
        403,
        "auth.role_required",
    )
    assert (
        await client.get(f"{store.merchant.merchant}/notifications/events", headers=clerk.auth)
    ).status_code == 200
    gone = await client.delete(url, headers=store.merchant.auth)
    assert gone.status_code == 204
    events = (
        await client.get(
            f"{store.merchant.merchant}/notifications/events", headers=store.merchant.auth
        )
    ).json()
    assert next(e for e in events if e["name"] == "echo.greeted")["template"] is None


async def test_send_a_test_to_me(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await echo_store(client, fake_wechat)
    me = await subscribed_member(client, store)
    url = f"{store.merchant.merchant}/notifications/templates/echo.greeted/test"
    sent = await client.post(url, json={"member_id": me.id}, headers=store.merchant.auth)
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "pending" and sent.json()["ref"] == "test"

    async def delivered() -> bool:
        return (await notice(rt, store.merchant, sent.json()["id"])).status == "sent"

    await eventually(delivered, what="the test message")
    [message] = store.app.messages
    assert message.touser == me.openid
    assert message.data == {
        "thing1": "拿铁咖啡",
        "amount2": "¥12.50",
        "character_string3": "E123",
        "time4": "2026年11月23日 14:30",
    }
    # Another store's member, or an event with no template: refused, nothing recorded.
    other = await onboard(client)
    stranger = await make_member(rt, other)
    problem(
        await client.post(url, json={"member_id": stranger.id}, headers=store.merchant.auth),
        404,
        "member.not_found",
    )
    await client.delete(
        f"{store.merchant.merchant}/notifications/templates/echo.greeted",
        headers=store.merchant.auth,
    )
    problem(
        await client.post(url, json={"member_id": me.id}, headers=store.merchant.auth),
        409,
        "notification.no_template",
    )


async def test_the_delivery_log_filters_counts_and_retries(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await echo_store(client, fake_wechat)
    m, auth = store.merchant.merchant, store.merchant.auth
    subscribed = await subscribed_member(client, store)
    unsubscribed = await wx_login(client, store.merchant, store.app)
    sent = (await greet(client, store.merchant, subscribed.id)).json()["id"]
    skipped = (await greet(client, store.merchant, unsubscribed.id)).json()["id"]

    async def settled() -> bool:
        rows = [await notice(rt, store.merchant, i) for i in (sent, skipped)]
        return [r.status for r in rows] == ["sent", "skipped"]

    await eventually(settled, what="both notices settled")
    log = (await client.get(f"{m}/notifications/", headers=auth)).json()
    assert [n["id"] for n in log["items"]] == [skipped, sent]  # newest first
    only = await client.get(f"{m}/notifications/", params={"status": "skipped"}, headers=auth)
    assert [n["id"] for n in only.json()["items"]] == [skipped]
    by_member = await client.get(
        f"{m}/notifications/", params={"member_id": subscribed.id}, headers=auth
    )
    assert [n["id"] for n in by_member.json()["items"]] == [sent]
    paged = await client.get(f"{m}/notifications/", params={"limit": 1}, headers=auth)
    assert paged.json()["next_cursor"]
    rest = await client.get(
        f"{m}/notifications/",
        params={"limit": 1, "cursor": paged.json()["next_cursor"]},
        headers=auth,
    )
    assert [n["id"] for n in rest.json()["items"]] == [sent]
    problem(
        await client.get(f"{m}/notifications/", params={"cursor": "!!"}, headers=auth),
        400,
        "request.invalid_cursor",
    )
    problem(
        await client.get(
            f"{m}/notifications/",
            params={"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
            headers=auth,
        ),
        400,
        "request.invalid",
    )

    stats = (await client.get(f"{m}/notifications/stats", headers=auth)).json()
    greeted = next(e for e in stats["events"] if e["event"] == "echo.greeted")
    assert (greeted["sent"], greeted["skipped"], greeted["failed"]) == (1, 1, 0)
    later = await client.get(
        f"{m}/notifications/stats", params={"since": "2100-01-01T00:00:00Z"}, headers=auth
    )
    assert next(e for e in later.json()["events"] if e["event"] == "echo.greeted")["sent"] == 0

    # A sent notice is not retried; the skipped one is, once the member subscribed.
    problem(
        await client.post(f"{m}/notifications/{sent}/retry", headers=auth),
        409,
        "notification.not_retryable",
    )
    await subscribe(client, store.merchant, store.app, unsubscribed, store.template_id)
    clerk = await new_staff(client, store.merchant, "clerk")
    problem(
        await client.post(f"{m}/notifications/{skipped}/retry", headers=clerk.auth),
        403,
        "auth.role_required",
    )
    retried = await client.post(f"{m}/notifications/{skipped}/retry", headers=auth)
    assert retried.status_code == 200, retried.text

    async def resent() -> bool:
        return (await notice(rt, store.merchant, skipped)).status == "sent"

    await eventually(resent, what="the retried notice")
    assert len(store.app.messages) == 2
    problem(
        await client.get(f"{m}/notifications/{'0' * 26}", headers=auth),
        404,
        "notification.not_found",
    )


async def test_the_storefront_reports_what_the_member_answered(
    client: httpx.AsyncClient, fake_wechat: FakeWeChat
) -> None:
    store = await echo_store(client, fake_wechat)
    s = store.merchant.store
    listed = (await client.get(f"{s}/notifications/templates")).json()
    assert listed == [
        {
            "event": "echo.greeted",
            "title": "问候",
            "template_id": store.template_id,
            "kind": "one_time",
        }
    ]
    assert (
        await client.get(f"{s}/notifications/templates", params={"events": "order.paid"})
    ).json() == []
    member = await wx_login(client, store.merchant, store.app)
    twice = None
    for _ in range(2):
        twice = await subscribe(client, store.merchant, store.app, member, store.template_id)
    assert twice is not None
    assert twice["items"][0]["remaining"] == 2 and twice["ignored"] == []
    answered = await client.post(
        f"{s}/me/subscriptions",
        json={"results": {store.template_id: "reject", "someone-elses-template": "accept"}},
        headers=member.auth,
    )
    body = answered.json()
    assert body["items"][0]["remaining"] == 2  # a later "reject" keeps what was allowed
    assert body["items"][0]["last_result"] == "reject"
    assert body["ignored"] == ["someone-elses-template"]
    banned = await client.post(
        f"{s}/me/subscriptions", json={"results": {store.template_id: "ban"}}, headers=member.auth
    )
    assert banned.json()["items"][0]["remaining"] == 0
    problem(
        await client.post(
            f"{s}/me/subscriptions",
            json={"results": {store.template_id: "maybe"}},
            headers=member.auth,
        ),
        400,
        "request.invalid",
    )
    problem(
        await client.post(f"{s}/me/subscriptions", json={"results": {}}),
        401,
        "auth.required",
    )
    mine = await client.get(f"{s}/me/subscriptions", headers=member.auth)
    assert mine.json()["items"][0]["events"] == ["echo.greeted"]
