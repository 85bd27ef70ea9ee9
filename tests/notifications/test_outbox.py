"""The outbox: a notice exists exactly when the change that caused it committed, events and
fields are checked, a key records a notice once, and an event with no template is skipped.
The echo test plugin declares ``echo.greeted`` through register_notification_events."""

from __future__ import annotations

import httpx
import pytest

from core.notifications.service import UnknownNotificationEvent, notify
from core.runtime import Runtime
from storeplug.testing import enable, make_member, onboard, problem
from storeplug.testing.fakes.wechat import FakeWeChat, wx_login
from tests.notifications.support import echo_store, greet, notices


async def test_a_rolled_back_change_leaves_no_notice(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await echo_store(client, fake_wechat)
    member = await wx_login(client, store.merchant, store.app)
    refused = await greet(client, store.merchant, member.id, fail=True)
    problem(refused, 409, "echo.failed")
    assert await notices(rt, store.merchant, member_id=member.id) == []
    kept = await greet(client, store.merchant, member.id)
    assert kept.status_code == 201, kept.text
    [row] = await notices(rt, store.merchant, member_id=member.id)
    assert row.id == kept.json()["id"]
    assert (row.event, row.ref) == ("echo.greeted", "greeting")
    assert row.values["name"] == "拿铁" and row.values["amount"] == "¥12.50"
    assert row.values["at"].startswith("20") and "年" in row.values["at"]


async def test_a_key_records_a_notice_once(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await onboard(client)
    assert (await enable(client, merchant, "echo")).status_code == 200
    member = await make_member(rt, merchant)
    first = await greet(client, merchant, member.id, key="coupon-1:2026-11-23")
    again = await greet(client, merchant, member.id, key="coupon-1:2026-11-23")
    other = await greet(client, merchant, member.id, key="coupon-2:2026-11-23")
    assert first.json()["id"] and again.json()["id"] is None and other.json()["id"]
    rows = await notices(rt, merchant, member_id=member.id)
    assert [r.id for r in rows] == [first.json()["id"], other.json()["id"]]


async def test_an_event_with_no_template_is_skipped_at_once(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    merchant = await onboard(client)
    assert (await enable(client, merchant, "echo")).status_code == 200
    member = await make_member(rt, merchant)
    assert (await greet(client, merchant, member.id)).status_code == 201
    [row] = await notices(rt, merchant, member_id=member.id)
    assert (row.status, row.reason, row.attempts) == ("skipped", "no template", 0)


async def test_unknown_events_and_fields_are_the_callers_mistake(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await onboard(client)
    member = await make_member(rt, merchant)
    tenant = await rt.tenants.resolve(merchant.slug)
    with pytest.raises(UnknownNotificationEvent, match=r"echo\.nope"):
        async with rt.tenant_context(tenant) as ctx:
            await notify(ctx, "echo.nope", member_id=member.id, values={})
    with pytest.raises(UnknownNotificationEvent, match="no field 'colour'"):
        async with rt.tenant_context(tenant) as ctx:
            await notify(ctx, "echo.greeted", member_id=member.id, values={"colour": "red"})
    assert await notices(rt, merchant, member_id=member.id) == []
