"""The console's notification pages over real HTTP: mapping a template by lines with errors
shown per line, the delivery log with its counts, a failed notice's reason and "send again",
"send a test to me", and what a clerk may see."""

from __future__ import annotations

import html

import httpx

from core.runtime import Runtime
from storeplug.testing import LiveServer, eventually
from storeplug.testing.console import signed_in, staff_login
from storeplug.testing.fakes.wechat import FakeWeChat
from tests.notifications.support import (
    ECHO_MAPPING,
    echo_store,
    greet,
    map_template,
    notice,
    subscribed_member,
)

KEYS = "thing1 = name\namount2 = amount\ncharacter_string3 = code\ntime4 = at"


async def test_a_template_is_mapped_by_lines_with_errors_per_line(
    client: httpx.AsyncClient, server: LiveServer, fake_wechat: FakeWeChat
) -> None:
    store = await echo_store(client, fake_wechat)
    merchant = store.merchant
    async with signed_in(server.url, merchant) as console:
        listed = await console.get("notifications/templates")
        assert listed.status_code == 200, listed.text
        assert 'data-testid="event-echo.greeted"' in listed.text
        assert 'data-testid="event-order.paid"' in listed.text
        assert store.template_id in listed.text
        edit = await console.get("notifications/templates/echo.greeted")
        assert edit.status_code == 200
        assert "thing1 = name" in edit.text and "拿铁咖啡" in edit.text  # the field examples

        bad = await console.post(
            "notifications/templates/echo.greeted",
            {"template_id": "tpl-2", "keys": "thing1 = name\nno equals sign\n", "kind": "one_time"},
        )
        assert bad.status_code == 422
        assert "第 2 行" in bad.text and 'data-testid="error-keys"' in bad.text
        unknown = await console.post(
            "notifications/templates/echo.greeted",
            {"template_id": "tpl-2", "keys": "thing1 = name\nthing2 = colour", "kind": "one_time"},
        )
        assert unknown.status_code == 422
        assert "第 2 行" in unknown.text and "no such field" in unknown.text
        saved = await console.post(
            "notifications/templates/echo.greeted",
            {
                "template_id": "tpl-2",
                "keys": KEYS + '\nthing5 = "请尽快取货"',
                "kind": "one_time",
                "page": "pages/echo/index",
                "miniprogram_state": "trial",
                "lang": "zh_CN",
                "enabled": "on",
            },
        )
        assert saved.status_code == 303, saved.text
        again = await console.get("notifications/templates/echo.greeted?saved=1")
        assert "已保存" in again.text and 'thing5 = "请尽快取货"' in html.unescape(again.text)
    events = (
        await client.get(f"{merchant.merchant}/notifications/events", headers=merchant.auth)
    ).json()
    template = next(e for e in events if e["name"] == "echo.greeted")["template"]
    assert template["template_id"] == "tpl-2" and template["miniprogram_state"] == "trial"
    assert template["keys"][-1] == {"key": "thing5", "field": None, "text": "请尽快取货"}


async def test_the_log_shows_why_and_sends_again(
    client: httpx.AsyncClient,
    rt: Runtime,
    server: LiveServer,
    fake_wechat: FakeWeChat,
    worker: None,
) -> None:
    store = await echo_store(client, fake_wechat)
    merchant = store.merchant
    member = await subscribed_member(client, store, times=2)  # the retry, then the test
    await map_template(client, merchant, "echo.greeted", store.template_id, ECHO_MAPPING[:3])
    failed_id = (await greet(client, merchant, member.id)).json()["id"]

    async def failed() -> bool:
        return (await notice(rt, merchant, failed_id)).status == "failed"

    await eventually(failed, what="the notice to fail")
    username, password = await staff_login(client, merchant, "clerk")
    async with signed_in(server.url, merchant, username, password) as clerk:
        log = await clerk.get("notifications")
        assert log.status_code == 200
        assert f'data-testid="notice-{failed_id}"' in log.text and "失败" in log.text
        shown = await clerk.get(f"notifications/{failed_id}")
        assert "data.time4.value is empty" in shown.text
        assert 'data-testid="retry"' not in shown.text  # a clerk reads, a manager retries
        assert (await clerk.get("notifications/templates")).status_code == 403
        assert (await clerk.post(f"notifications/{failed_id}/retry")).status_code == 403

    await map_template(client, merchant, "echo.greeted", store.template_id, ECHO_MAPPING)
    async with signed_in(server.url, merchant) as console:
        only_failed = await console.get("notifications?status=failed&event=echo.greeted")
        assert f'data-testid="notice-{failed_id}"' in only_failed.text
        counts = await console.get("notifications")
        assert 'data-testid="count-echo.greeted"' in counts.text
        retried = await console.post(f"notifications/{failed_id}/retry")
        assert retried.status_code == 303
        assert retried.headers["location"].endswith(f"/notifications/{failed_id}?retried=1")

        async def sent() -> bool:
            return (await notice(rt, merchant, failed_id)).status == "sent"

        await eventually(sent, what="the notice sent again")
        again = await console.post(f"notifications/{failed_id}/retry")
        assert again.status_code == 422 and "只有失败或已跳过的通知可以重新发送" in again.text

        # Send a test to me: the example values, to the merchant's own member account.
        test = await console.post(
            "notifications/templates/echo.greeted/test", {"member_id": member.id}
        )
        assert test.status_code == 303, test.text
        test_id = test.headers["location"].rsplit("/", 1)[-1]

        async def test_sent() -> bool:
            return (await notice(rt, merchant, test_id)).status == "sent"

        await eventually(test_sent, what="the test message")
        assert store.app.messages[-1].data["thing1"] == "拿铁咖啡"
        refused = await console.post(
            "notifications/templates/echo.greeted/test", {"member_id": "0" * 26}
        )
        assert refused.status_code == 422 and "本店没有这个 ID 的会员" in refused.text
