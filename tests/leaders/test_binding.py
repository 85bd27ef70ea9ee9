"""Binding buyers to leaders: through the link at sign-up or on a later visit, the first or
the latest link winning as the settings say, bindings that lapse, a suspended leader's link
binding nobody, and the leader each order counts for."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
from sqlalchemy import update

from core.db import utcnow
from core.runtime import Runtime
from plugins.leaders.models import LeaderBinding
from storeplug.testing import (
    FakeWeChat,
    Merchant,
    Shopper,
    connect_store,
    make_member,
    problem,
    wx_login,
)
from tests.commerce.orders_support import direct, make_address, make_sku, place
from tests.commerce.payments_support import pay, use_sandbox
from tests.leaders.support import (
    ALL_DAY,
    at_point,
    bind,
    decide,
    leader_orders,
    leaders_store,
    make_round,
    new_leader,
    round_order,
)


async def binding_of(client: httpx.AsyncClient, merchant: Merchant, buyer: Shopper) -> str | None:
    found = await client.get(f"{merchant.store}/leaders/binding", headers=buyer.auth)
    assert found.status_code == 200, found.text
    binding = found.json()["binding"]
    return None if binding is None else str(binding["leader"]["id"])


async def test_signing_up_through_a_leaders_link_binds_to_them(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    merchant = await leaders_store(client, binding_days=30)
    app = await connect_store(client, merchant, fake_wechat)
    leader = await new_leader(client, rt, merchant)
    neighbour = await wx_login(client, merchant, app, source="leader", source_ref=leader.id)
    found = (await client.get(f"{merchant.store}/leaders/binding", headers=neighbour.auth)).json()
    binding = found["binding"]
    assert binding["leader"]["id"] == leader.id and binding["source"] == "register"
    lasts = (utcnow() + timedelta(days=30)).timestamp()
    assert abs(_instant(binding["expires_at"]) - lasts) < 60

    buyers = await client.get(f"{merchant.store}/leaders/me/buyers", headers=leader.auth)
    assert [b["member_id"] for b in buyers.json()["items"]] == [neighbour.id]
    # Only the leader sees their buyers.
    problem(
        await client.get(f"{merchant.store}/leaders/me/buyers", headers=neighbour.auth),
        403,
        "leaders.not_a_leader",
    )

    # A link naming nobody, or a suspended leader, binds nobody and never stops the sign-up.
    stray = await wx_login(client, merchant, app, source="leader", source_ref="nobody")
    assert await binding_of(client, merchant, stray) is None
    await decide(client, merchant, leader.id, "suspend", {"reason": "投诉"})
    late = await wx_login(client, merchant, app, source="leader", source_ref=leader.id)
    assert await binding_of(client, merchant, late) is None
    # ... and a suspended leader's buyers are nobody's while it lasts.
    assert await binding_of(client, merchant, neighbour) is None


def _instant(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


async def test_a_suspended_leaders_link_binds_nobody(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await leaders_store(client)
    leader = await new_leader(client, rt, merchant)
    buyer = await make_member(rt, merchant)
    await decide(client, merchant, leader.id, "suspend", {"reason": "投诉"})
    problem(await bind(client, merchant, buyer, leader.id), 409, "leaders.leader_not_active")
    assert await binding_of(client, merchant, buyer) is None
    problem(await bind(client, merchant, buyer, "0" * 26), 404, "leaders.leader_not_found")
    problem(await bind(client, merchant, buyer, "x" * 300), 404, "leaders.leader_not_found")


async def test_the_first_binding_wins_while_it_lasts(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await leaders_store(client, binding_rule="first", binding_days=7)
    first, second = await new_leader(client, rt, merchant), await new_leader(client, rt, merchant)
    buyer = await make_member(rt, merchant)

    opened = await bind(client, merchant, buyer, first.id)
    assert opened.status_code == 200, opened.text
    assert opened.json()["bound"] is True
    later = (await bind(client, merchant, buyer, second.id)).json()
    assert later["bound"] is False and later["binding"]["leader"]["id"] == first.id

    # The binding lapses: the next link binds.
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(
            update(LeaderBinding)
            .where(LeaderBinding.member_id == buyer.id)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    assert await binding_of(client, merchant, buyer) is None
    assert (await bind(client, merchant, buyer, second.id)).json()["bound"] is True
    assert await binding_of(client, merchant, buyer) == second.id

    # A leader who is no longer active holds nobody.
    await decide(client, merchant, second.id, "end", {"reason": "搬家"})
    assert (await bind(client, merchant, buyer, first.id)).json()["bound"] is True


async def test_the_latest_link_wins_when_the_settings_say_so(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await leaders_store(client, binding_rule="latest")
    first, second = await new_leader(client, rt, merchant), await new_leader(client, rt, merchant)
    buyer = await make_member(rt, merchant)
    assert (await bind(client, merchant, buyer, first.id)).json()["bound"] is True
    moved = (await bind(client, merchant, buyer, second.id)).json()
    assert moved["bound"] is True and moved["binding"]["expires_at"] is None
    assert await binding_of(client, merchant, buyer) == second.id
    first_buyers = await client.get(f"{merchant.store}/leaders/me/buyers", headers=first.auth)
    assert first_buyers.json()["items"] == []

    # A leader never binds themselves.
    mine = (await bind(client, merchant, first.member, first.id)).json()
    assert mine["bound"] is False and mine["binding"] is None


async def test_two_links_opened_at_once_bind_once(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await leaders_store(client, binding_rule="first")
    leaders = [await new_leader(client, rt, merchant) for _ in range(3)]
    for _ in range(3):
        buyer = await make_member(rt, merchant)
        answers = await asyncio.gather(*(bind(client, merchant, buyer, x.id) for x in leaders))
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        winners = [x.id for x, a in zip(leaders, answers, strict=True) if a.json()["bound"]]
        assert len(winners) == 1, [a.text for a in answers]
        assert await binding_of(client, merchant, buyer) == winners[0]


async def test_orders_count_for_the_point_leader_else_the_bound_one(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await leaders_store(client, **ALL_DAY)
    await use_sandbox(client, merchant)
    mine, other = await new_leader(client, rt, merchant), await new_leader(client, rt, merchant)
    sku = await make_sku(rt, merchant, price=2000, stock=20)
    bound, stranger = await make_member(rt, merchant), await make_member(rt, merchant)
    assert (await bind(client, merchant, bound, mine.id)).json()["bound"] is True

    express = await place(
        client, merchant, bound, direct(sku, address_id=await make_address(rt, merchant, bound.id))
    )
    assert express.status_code == 201, express.text
    round_ = await make_round(client, merchant, [(sku.id, 1500)])
    at_other = await place(
        client,
        merchant,
        bound,
        round_order(round_["id"], [(sku.id, 1)], **at_point(other.point_id)),
    )
    assert at_other.status_code == 201, at_other.text
    unbound = await place(
        client,
        merchant,
        stranger,
        direct(sku, address_id=await make_address(rt, merchant, stranger.id)),
    )
    assert unbound.status_code == 201, unbound.text

    recorded = await leader_orders(rt, merchant)
    assert recorded == {
        express.json()["id"]: (mine.id, "binding"),
        at_other.json()["id"]: (other.id, "point"),
    }

    assert (await pay(client, merchant, bound, express.json()["id"])).status_code == 201
    listed = await client.get(f"{merchant.merchant}/leaders/", headers=merchant.auth)
    stats = {row["id"]: row["stats"] for row in listed.json()["items"]}
    assert stats[mine.id] == {"buyers": 1, "orders": 1, "gmv": express.json()["payable"]}
    assert stats[other.id] == {"buyers": 0, "orders": 0, "gmv": 0}  # placed, not paid

    # The store's figures count the paid order as the leaders' GMV, the others' not.
    sources = await client.get(f"{merchant.merchant}/analytics/sources", headers=merchant.auth)
    rows = {row["source"]: row for row in sources.json()}
    assert (rows["leaders"]["label"], rows["leaders"]["orders"], rows["leaders"]["gmv"]) == (
        "社区团长",
        1,
        express.json()["payable"],
    )
