"""Members on the merchant side: levels, record_paid promotion, the member centre's
member_benefits, search and paging, a member's detail with their orders, and tags."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any

import httpx
import pytest

from core.db import utcnow
from core.members.models import Member
from core.members.service import record_paid
from core.orders.models import Order
from core.runtime import Runtime
from storeplug.testing import Merchant, enable, make_member, onboard, problem, staff_auth
from storeplug.testing.fakes.wechat import FakeWeChat, connect_store, wx_login


async def add_level(
    client: httpx.AsyncClient, m: Merchant, name: str, threshold: int, discount: int
) -> dict[str, Any]:
    response = await client.post(
        f"{m.merchant}/member-levels",
        json={"name": name, "threshold": threshold, "discount_percent": discount},
        headers=m.auth,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def pay(rt: Runtime, m: Merchant, member_id: str, amount: int) -> Any:
    tenant = await rt.tenants.resolve(m.slug)
    async with rt.tenant_context(tenant) as ctx:
        return await record_paid(ctx, member_id, amount)


async def test_levels_record_paid_and_benefits(
    client: httpx.AsyncClient, fake_wechat: FakeWeChat, rt: Runtime
) -> None:
    m = await onboard(client)
    assert (await enable(client, m, "echo")).status_code == 200
    app = await connect_store(client, m, fake_wechat)
    member = await wx_login(client, m, app)
    silver = await add_level(client, m, "Silver", 10_000, 5)
    gold = await add_level(client, m, "Gold", 50_000, 12)
    url = f"{m.merchant}/member-levels"
    taken = await client.post(url, json={"name": "Dup", "threshold": 10_000}, headers=m.auth)
    assert problem(taken, 409, "level.threshold_taken")["errors"][0]["field"] == "threshold"
    for field, value in [("discount_percent", 101), ("discount_percent", -1), ("threshold", -1)]:
        body = {"name": "X", "threshold": 7, "discount_percent": 0, field: value}
        bad = await client.post(url, json=body, headers=m.auth)
        assert problem(bad, 400, "request.invalid")["errors"][0]["field"] == field

    first = await pay(rt, m, member.id, 9_999)
    assert (first.total_paid, first.level_id, first.promoted) == (9_999, None, False)
    second = await pay(rt, m, member.id, 1)
    assert (second.level_id, second.promoted) == (silver["id"], True)
    with pytest.raises(ValueError):
        await pay(rt, m, member.id, -1)
    # Concurrent payments of one member all count, and the level follows the total.
    await asyncio.gather(*(pay(rt, m, member.id, 5_000) for _ in range(8)))
    me = (await client.get(f"{m.store}/me", headers=member.auth)).json()
    assert me["total_paid"] == 50_000
    assert me["level"] == {"id": gold["id"], "name": "Gold", "discount_percent": 12}

    benefits = await client.get(f"{m.store}/me/benefits", headers=member.auth)
    assert benefits.status_code == 200
    assert benefits.json() == [  # member_benefits: the core's level line first, then echo's
        {"source": "core.level", "title": "Gold", "detail": "12% off every order"},
        {"source": "echo", "title": "echo", "detail": f"hello {member.id}"},
    ]
    listed = (await client.get(url, headers=m.auth)).json()
    assert [(lv["name"], lv["members"]) for lv in listed] == [("Silver", 0), ("Gold", 1)]

    # Editing levels re-evaluates everyone: Gold now needs more; Silver goes; a base level.
    raised = await client.patch(f"{url}/{gold['id']}", json={"threshold": 80_000}, headers=m.auth)
    assert raised.status_code == 200, raised.text
    assert (await client.get(f"{m.store}/me", headers=member.auth)).json()["level"]["id"] == (
        silver["id"]
    )
    clash = await client.patch(f"{url}/{gold['id']}", json={"threshold": 10_000}, headers=m.auth)
    problem(clash, 409, "level.threshold_taken")
    assert (await client.delete(f"{url}/{silver['id']}", headers=m.auth)).status_code == 204
    assert (await client.get(f"{m.store}/me", headers=member.auth)).json()["level"] is None
    assert (await client.get(f"{m.store}/me/benefits", headers=member.auth)).json() == [
        {"source": "echo", "title": "echo", "detail": f"hello {member.id}"}
    ]
    base = await add_level(client, m, "Member", 0, 0)
    me = (await client.get(f"{m.store}/me", headers=member.auth)).json()
    assert me["level"] == {"id": base["id"], "name": "Member", "discount_percent": 0}
    missing = await client.patch(f"{url}/nope", json={"name": "x"}, headers=m.auth)
    problem(missing, 404, "level.not_found")

    # Racing to take one threshold: the unique constraint decides, the losers get a 409.
    raced = await asyncio.gather(
        *(
            client.post(url, json={"name": f"R{i}", "threshold": 777}, headers=m.auth)
            for i in range(4)
        )
    )
    assert sorted(r.status_code for r in raced) == [201, 409, 409, 409], [r.text for r in raced]

    clerk = await staff_auth(client, m, "clerk")
    assert (await client.get(url, headers=clerk)).status_code == 200
    denied = await client.post(url, json={"name": "C", "threshold": 1}, headers=clerk)
    problem(denied, 403, "auth.role_required")


async def test_search_detail_and_tags(client: httpx.AsyncClient, rt: Runtime) -> None:
    m = await onboard(client)
    names = ["Alice", "alicia", "Bob", "100%_real", "Carol"]
    shoppers = {name: await make_member(rt, m, nickname=name) for name in names}
    async with rt.db.tenant_session(m.id) as session:
        bob = await session.get(Member, (m.id, shoppers["Bob"].id))
        assert bob is not None
        bob.phone = "13811112222"
    url = f"{m.merchant}/members"

    async def search(**params: Any) -> list[str]:
        response = await client.get(url, params=params, headers=m.auth)
        assert response.status_code == 200, response.text
        return [item["nickname"] for item in response.json()["items"]]

    assert await search(q="ali") == ["Alice", "alicia"]
    assert await search(q="1111") == ["Bob"]
    assert await search(q="%") == ["100%_real"]
    assert await search(q="_") == ["100%_real"]
    assert await search(q="zzz") == []

    # Paging by cursor visits everyone once.
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url, params=params, headers=m.auth)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [shoppers[name].id for name in names]
    bad_cursor = await client.get(url, params={"cursor": "!!"}, headers=m.auth)
    assert bad_cursor.status_code == 400

    alice = shoppers["Alice"].id
    tags_url = f"{url}/{alice}/tags"
    tagged = await client.put(
        tags_url, json={"tags": ["VIP", " VIP ", "团长", "vip"]}, headers=m.auth
    )
    assert tagged.status_code == 200, tagged.text
    assert tagged.json()["tags"] == ["VIP", "团长", "vip"]
    await client.put(f"{url}/{shoppers['Carol'].id}/tags", json={"tags": ["团长"]}, headers=m.auth)
    assert await search(tag="团长") == ["Alice", "Carol"]
    assert await search(tag="VIP", q="ali") == ["Alice"]
    assert await search(tag="VI") == []
    for tags, field in [
        (["x" * 21], "tags[0]"),
        (["ok", "  "], "tags[1]"),
        ([f"t{i}" for i in range(21)], "tags"),
        (["a,b"], "tags[0]"),
    ]:
        bad = await client.put(tags_url, json={"tags": tags}, headers=m.auth)
        assert problem(bad, 400, "request.invalid")["errors"][0]["field"] == field, bad.text

    # Detail: profile, addresses, orders (the newest 20, newest first).
    address = await client.post(
        f"{m.store}/me/addresses",
        json={"name": "A", "phone": "13800138000", "province": "P", "city": "C", "detail": "D"},
        headers=shoppers["Alice"].auth,
    )
    assert address.status_code == 201
    now = utcnow()
    async with rt.db.tenant_session(m.id) as session:
        for i in range(22):
            session.add(
                Order(
                    number=f"N{secrets.token_hex(6)}-{i:02d}",
                    member_id=alice,
                    items_total=100 * i,
                    payable=100 * i,
                    created_at=now - timedelta(minutes=30 - i),
                )
            )
    detail = await client.get(f"{url}/{alice}", headers=m.auth)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["nickname"] == "Alice"
    assert body["tags"] == ["VIP", "团长", "vip"]
    assert body["source"] == "direct"
    assert [a["id"] for a in body["addresses"]] == [address.json()["id"]]
    orders = body["orders"]
    assert len(orders) == 20
    assert [o["payable"] for o in orders] == [100 * i for i in range(21, 1, -1)]
    assert set(orders[0]) == {"id", "number", "status", "payable", "created_at"}

    problem(await client.get(f"{url}/nope", headers=m.auth), 404, "member.not_found")
    problem(
        await client.put(f"{url}/nope/tags", json={"tags": []}, headers=m.auth),
        404,
        "member.not_found",
    )
    other = await onboard(client)
    stranger = await make_member(rt, other)
    problem(await client.get(f"{url}/{stranger.id}", headers=m.auth), 404, "member.not_found")
    assert stranger.id not in (await client.get(url, headers=m.auth)).text

    clerk = await staff_auth(client, m, "clerk")
    problem(await client.get(url, headers=clerk), 403, "auth.role_required")
    problem(await client.get(f"{url}/{alice}", headers=clerk), 403, "auth.role_required")
