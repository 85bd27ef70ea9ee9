"""A member's own profile and addresses on the storefront: validation naming the field,
one default address, the limit of 20."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from core.members.models import Address
from core.runtime import Runtime
from storeplug.testing import problem
from storeplug.testing.fakes.wechat import FakeWeChat, wx_login
from tests.commerce.test_members import ADDRESS, open_store


async def test_profile(client: httpx.AsyncClient, fake_wechat: FakeWeChat) -> None:
    m, app = await open_store(client, fake_wechat)
    member = await wx_login(client, m, app)
    url = f"{m.store}/me"
    good = {
        "nickname": "小明",
        "avatar_url": "https://thirdwx.qlogo.cn/a.png",
        "gender": 1,
        "birthday": "1990-05-01",
    }
    ok = await client.patch(url, json=good, headers=member.auth)
    assert ok.status_code == 200, ok.text
    assert {k: ok.json()[k] for k in good} == good
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    for field, value in [
        ("nickname", ""),
        ("nickname", "x" * 65),
        ("nickname", "bad\nname"),
        ("nickname", "   "),
        ("avatar_url", "http://insecure.example/a.png"),
        ("avatar_url", "javascript:alert(1)"),
        ("gender", 3),
        ("birthday", tomorrow),
        ("birthday", "1990-13-01"),
        ("birthday", "1800-01-01"),
        ("total_paid", 100),
        ("phone", "13800138000"),
    ]:
        bad = await client.patch(url, json={field: value}, headers=member.auth)
        assert problem(bad, 400, "request.invalid")["errors"][0]["field"] == field, bad.text
    cleared = await client.patch(
        url, json={"birthday": None, "avatar_url": ""}, headers=member.auth
    )
    assert cleared.json()["birthday"] is None
    assert cleared.json()["avatar_url"] == ""
    assert cleared.json()["nickname"] == "小明"


async def test_addresses(client: httpx.AsyncClient, fake_wechat: FakeWeChat, rt: Runtime) -> None:
    m, app = await open_store(client, fake_wechat)
    member = await wx_login(client, m, app)
    url = f"{m.store}/me/addresses"

    async def add(**changes: Any) -> dict[str, Any]:
        response = await client.post(url, json={**ADDRESS, **changes}, headers=member.auth)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    async def defaults() -> list[str]:
        listed = (await client.get(url, headers=member.auth)).json()
        return [a["id"] for a in listed if a["is_default"]]

    first = await add()
    assert first["is_default"] is True  # the first address is the default
    second = await add(detail="二号", is_default=False)
    assert await defaults() == [first["id"]]
    third = await add(detail="三号", is_default=True)
    assert await defaults() == [third["id"]]
    listed = (await client.get(url, headers=member.auth)).json()
    assert [a["id"] for a in listed] == [third["id"], second["id"], first["id"]]

    made_default = await client.patch(
        f"{url}/{second['id']}", json={"is_default": True, "city": "广州市"}, headers=member.auth
    )
    assert made_default.json()["city"] == "广州市"
    assert await defaults() == [second["id"]]
    fetched = (await client.get(f"{url}/{first['id']}", headers=member.auth)).json()
    assert fetched == {**first, "is_default": False}
    gone = await client.delete(f"{url}/{second['id']}", headers=member.auth)
    assert gone.status_code == 204
    assert await defaults() == [third["id"]]  # the newest remaining
    problem(
        await client.get(f"{url}/{second['id']}", headers=member.auth), 404, "address.not_found"
    )

    for field, value in [
        ("phone", "12345"),
        ("phone", "1380013800a"),
        ("name", ""),
        ("detail", "x" * 201),
        ("province", None),
    ]:
        bad = await client.post(url, json={**ADDRESS, field: value}, headers=member.auth)
        assert problem(bad, 400, "request.invalid")["errors"][0]["field"] == field
    missing = {k: v for k, v in ADDRESS.items() if k != "detail"}
    bad = await client.post(url, json=missing, headers=member.auth)
    assert problem(bad, 400, "request.invalid")["errors"][0]["field"] == "detail"
    intl = await add(phone="+85261234567")
    assert intl["phone"] == "+85261234567"

    for _ in range(20 - 3):
        await add()
    problem(await client.post(url, json=ADDRESS, headers=member.auth), 409, "address.limit_reached")
    async with rt.db.tenant_session(m.id) as session:
        rows = (await session.scalars(select(Address).where(Address.member_id == member.id))).all()
    assert len(rows) == 20
    assert sum(row.is_default for row in rows) == 1
