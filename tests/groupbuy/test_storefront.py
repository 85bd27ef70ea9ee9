"""What buyers see of group-buys: the running and upcoming activities, one activity's prices,
the teams they may join (soonest expiry first), a team's share page without anyone's ids or
phone, their own teams, and the group price and badge on product lists."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from core.db import utcnow
from core.runtime import Runtime
from plugins.groupbuy.models import GroupActivity
from storeplug.testing import Merchant, problem
from tests.commerce.orders_support import make_sku
from tests.groupbuy.views_support import (
    Place,
    add_sku,
    body,
    create,
    gb_store,
    people,
    seed_team,
)


async def end_now(rt: Runtime, merchant: Merchant, activity_id: str) -> None:
    """Move an activity's window into the past (the API refuses an end in the past)."""
    now = utcnow()
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(
            update(GroupActivity)
            .where(GroupActivity.id == activity_id)
            .values(starts_at=now - timedelta(days=2), ends_at=now - timedelta(seconds=1))
        )


async def test_activities_list_and_detail(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await gb_store(client)
    red = await make_sku(rt, merchant, price=5000, stock=50, title="电饭煲")
    blue = await add_sku(rt, merchant, red.product_id, price=4000, specs={"颜色": "蓝"})
    lamp = await make_sku(rt, merchant, price=3000, stock=50, title="台灯")
    towel = await make_sku(rt, merchant, price=2000, stock=50)
    hidden = await make_sku(rt, merchant, price=2000, stock=50, on_shelf=False)
    m = f"{merchant.merchant}/groupbuy/activities"
    running = await create(
        client, merchant, body([(red, 2990), (blue, 2500)], product_id=red.product_id)
    )
    soon = await create(client, merchant, body([(lamp, 1990)], starts_in=3600))
    stopped = await create(client, merchant, body([(towel, 990)]))
    assert (await client.post(f"{m}/{stopped['id']}/stop", headers=merchant.auth)).is_success
    ended = await create(client, merchant, body([(towel, 990)], starts_in=30 * 86400))
    await end_now(rt, merchant, ended["id"])
    await create(client, merchant, body([(hidden, 990)]))  # its product is off the shelf

    url = f"{merchant.store}/groupbuy/activities"
    listed = (await client.get(url)).json()
    assert "server_time" in listed
    cards = {card["id"]: card for card in listed["items"]}
    assert list(cards) == [running["id"], soon["id"]]
    assert cards[running["id"]] == {
        "id": running["id"],
        "product_id": red.product_id,
        "title": "三人团",
        "image": "https://img.example/tee.png",
        "phase": "running",
        "team_size": 3,
        "min_group_price": 2500,
        "min_price": 4000,
        "starts_at": running["starts_at"],
        "ends_at": running["ends_at"],
    }
    assert cards[soon["id"]]["phase"] == "upcoming"
    first = (await client.get(f"{url}?limit=1")).json()
    assert [c["id"] for c in first["items"]] == [running["id"]] and first["next_cursor"]
    rest = (await client.get(f"{url}?limit=1&cursor={first['next_cursor']}")).json()
    assert [c["id"] for c in rest["items"]] == [soon["id"]] and rest["next_cursor"] is None

    detail = (await client.get(f"{url}/{running['id']}")).json()
    assert (detail["phase"], detail["time_limit_hours"], detail["order_limit"]) == (
        "running",
        24,
        1,
    )
    items = {i["sku_id"]: (i["sku_label"], i["price"], i["group_price"]) for i in detail["items"]}
    # The label is the SKU's specs in the order of their names, as the cart shows it.
    assert items == {red.id: ("M / 红", 5000, 2990), blue.id: ("蓝", 4000, 2500)}
    assert (await client.get(f"{url}/{ended['id']}")).json()["phase"] == "ended"
    for gone in (stopped["id"], "0" * 26, "x" * 40):
        problem(await client.get(f"{url}/{gone}"), 404, "groupbuy.activity_not_found")
    other = await gb_store(client)
    problem(
        await client.get(f"{other.store}/groupbuy/activities/{running['id']}"),
        404,
        "groupbuy.activity_not_found",
    )


def assert_no_private_data(payload: Any, secrets: list[str]) -> None:
    """Nobody's member id, order id, phone or openid, anywhere in the team's JSON."""
    text = str(payload)
    for secret in secrets:
        assert secret not in text, secret
    teams = payload.get("items", [payload])
    for team in teams:
        team = team.get("team", team)
        for person in [*team["members"], *([team["leader"]] if team["leader"] else [])]:
            assert set(person) == {"nickname", "avatar_url", "is_leader", "joined_at"}


async def test_teams_a_buyer_may_join(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await gb_store(client)
    red = await make_sku(rt, merchant, price=5000, stock=100)
    blue = await make_sku(rt, merchant, price=5000, stock=100)
    activity = await create(client, merchant, body([(red, 2990)]))
    other = await create(client, merchant, body([(blue, 2990)]))
    p = await people(rt, merchant, 10)
    late = await seed_team(
        rt, merchant, activity, red, [Place(p[0], leader=True), Place(p[1])], expires_in=7200
    )
    soon = await seed_team(
        rt,
        merchant,
        activity,
        red,
        [Place(p[2], leader=True), Place(p[3], status="held")],
        expires_in=600,
    )
    await seed_team(  # full: two paid and a held place
        rt,
        merchant,
        activity,
        red,
        [Place(p[4], leader=True), Place(p[5]), Place(p[6], status="held")],
    )
    await seed_team(rt, merchant, activity, red, [Place(p[7], leader=True)], expires_in=-1)
    await seed_team(rt, merchant, activity, red, [Place(p[8], leader=True, status="held")],
                    status="opening")  # fmt: skip
    elsewhere = await seed_team(rt, merchant, other, blue, [Place(p[9], leader=True)])

    url = f"{merchant.store}/groupbuy/teams"
    by_product = (await client.get(f"{url}?product_id={red.product_id}")).json()
    assert [t["id"] for t in by_product["items"]] == [soon.id, late.id]  # soonest expiry first
    first = by_product["items"][0]
    assert (first["status"], first["size"], first["slots_left"], first["placeholders"]) == (
        "forming",
        3,
        1,  # the held place counts as taken
        0,
    )
    assert first["leader"]["nickname"] == "团员2"
    assert [m["nickname"] for m in first["members"]] == ["团员2"]  # only who paid
    assert [m["nickname"] for m in by_product["items"][1]["members"]] == ["团员0", "团员1"]
    assert_no_private_data(
        by_product,
        [x.id for x in p] + late.order_ids + soon.order_ids + ["1390000", "o-"],
    )

    by_activity = (await client.get(f"{url}?activity_id={other['id']}")).json()
    assert [t["id"] for t in by_activity["items"]] == [elsewhere.id]
    page = (await client.get(f"{url}?product_id={red.product_id}&limit=1")).json()
    assert [t["id"] for t in page["items"]] == [soon.id] and page["next_cursor"]
    after = f"{url}?product_id={red.product_id}&limit=1&cursor={page['next_cursor']}"
    rest = (await client.get(after)).json()
    assert [t["id"] for t in rest["items"]] == [late.id] and rest["next_cursor"] is None
    problem(await client.get(f"{url}?cursor=bm9wZQ"), 400, "request.invalid_cursor")
    everything = (await client.get(url)).json()
    assert {t["id"] for t in everything["items"]} == {soon.id, late.id, elsewhere.id}

    # A stopped activity's teams, and an ended one's, take nobody else.
    stop = f"{merchant.merchant}/groupbuy/activities/{other['id']}/stop"
    assert (await client.post(stop, headers=merchant.auth)).is_success
    assert (await client.get(f"{url}?activity_id={other['id']}")).json()["items"] == []
    await end_now(rt, merchant, activity["id"])
    assert (await client.get(f"{url}?product_id={red.product_id}")).json()["items"] == []
    another = await gb_store(client)
    none = (await client.get(f"{another.store}/groupbuy/teams?product_id={red.product_id}")).json()
    assert none["items"] == []


async def test_a_teams_share_page(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await gb_store(client)
    red = await make_sku(rt, merchant, price=5000, stock=100)
    activity = await create(client, merchant, body([(red, 2990)]))
    p = await people(rt, merchant, 8)
    forming = await seed_team(
        rt,
        merchant,
        activity,
        red,
        [Place(p[1], status="held"), Place(p[0], leader=True), Place(p[2], status="left")],
    )
    failed = await seed_team(
        rt,
        merchant,
        activity,
        red,
        [
            Place(p[3], status="failed", leader=True, refunded=5000),
            Place(p[4], status="failed", had_paid=False),
        ],
        status="failed",
    )
    virtual = await seed_team(
        rt,
        merchant,
        activity,
        red,
        [Place(p[5], leader=True), Place(p[6])],
        status="succeeded",
        placeholders=1,
    )
    opening = await seed_team(
        rt, merchant, activity, red, [Place(p[7], leader=True, status="held")], status="opening"
    )
    cancelled = await seed_team(
        rt,
        merchant,
        activity,
        red,
        [Place(p[7], leader=True, status="released", had_paid=False)],
        status="cancelled",
    )

    url = f"{merchant.store}/groupbuy/teams"
    page = (await client.get(f"{url}/{forming.id}")).json()
    assert (page["status"], page["slots_left"]) == ("forming", 1)
    assert page["leader"] == page["members"][0]
    assert [(m["nickname"], m["avatar_url"], m["is_leader"]) for m in page["members"]] == [
        ("团员0", "https://img.example/a0.png", True)
    ]
    assert_no_private_data(page, [x.id for x in p] + forming.order_ids + ["1390000", "o-"])
    gone = (await client.get(f"{url}/{failed.id}")).json()
    # Of a failed team, those who had paid (and were refunded) are shown.
    assert (gone["status"], gone["slots_left"]) == ("failed", 0)
    assert [m["nickname"] for m in gone["members"]] == ["团员3"]
    done = (await client.get(f"{url}/{virtual.id}")).json()
    assert (done["status"], done["slots_left"], done["placeholders"]) == ("succeeded", 0, 1)
    assert [m["is_leader"] for m in done["members"]] == [True, False]
    for hidden in (opening.id, cancelled.id, "0" * 26, "x" * 40):
        problem(await client.get(f"{url}/{hidden}"), 404, "groupbuy.team_not_found")
    other = await gb_store(client)
    problem(
        await client.get(f"{other.store}/groupbuy/teams/{forming.id}"),
        404,
        "groupbuy.team_not_found",
    )


async def test_my_teams(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await gb_store(client)
    red = await make_sku(rt, merchant, price=5000, stock=100)
    blue = await make_sku(rt, merchant, price=5000, stock=100)
    lamp = await make_sku(rt, merchant, price=5000, stock=100)
    # One open team per member and activity (the database holds to it): three activities.
    one = await create(client, merchant, body([(red, 2990)]))
    two = await create(client, merchant, body([(blue, 2990)]))
    three = await create(client, merchant, body([(lamp, 2990)]))
    me, friend, stranger = await people(rt, merchant, 3)
    led = await seed_team(rt, merchant, one, red, [Place(me, leader=True), Place(friend)])
    joined = await seed_team(
        rt,
        merchant,
        two,
        blue,
        [Place(friend, leader=True), Place(me, status="left", refunded=5000)],
    )
    unpaid = await seed_team(
        rt, merchant, three, lamp, [Place(me, leader=True, status="held")], status="opening"
    )
    await seed_team(rt, merchant, one, red, [Place(stranger, leader=True)])

    url = f"{merchant.store}/groupbuy/my/teams"
    problem(await client.get(url), 401, "auth.required")
    mine = (await client.get(url, headers=me.auth)).json()
    assert [
        (t["team"]["id"], t["order_id"], t["my_status"], t["is_leader"]) for t in mine["items"]
    ] == [
        (unpaid.id, unpaid.order_ids[0], "held", True),
        (joined.id, joined.order_ids[1], "left", False),
        (led.id, led.order_ids[0], "paid", True),
    ]  # newest first
    # My own opening team shows (nobody else sees it); others are people without ids.
    assert mine["items"][0]["team"]["status"] == "opening"
    assert [m["nickname"] for m in mine["items"][2]["team"]["members"]] == ["团员0", "团员1"]
    assert_no_private_data(mine, [friend.id, stranger.id, "1390000"])
    page = (await client.get(f"{url}?limit=2", headers=me.auth)).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = (await client.get(f"{url}?limit=2&cursor={page['next_cursor']}", headers=me.auth)).json()
    assert [t["team"]["id"] for t in rest["items"]] == [led.id] and rest["next_cursor"] is None
    theirs = (await client.get(url, headers=stranger.auth)).json()
    assert len(theirs["items"]) == 1
    other = await gb_store(client)
    problem(
        await client.get(f"{other.store}/groupbuy/my/teams", headers=me.auth),
        401,
        "auth.invalid_token",
    )


async def test_product_lists_show_the_group_price_and_badge(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await gb_store(client, badge="团购价")
    red = await make_sku(rt, merchant, price=5000, stock=50, title="电饭煲")
    blue = await add_sku(rt, merchant, red.product_id, price=4500, specs={"颜色": "蓝"})
    lamp = await make_sku(rt, merchant, price=3000, stock=50, title="台灯")
    towel = await make_sku(rt, merchant, price=2000, stock=50, title="毛巾")
    running = await create(
        client, merchant, body([(red, 2990), (blue, 2500)], product_id=red.product_id)
    )
    await create(client, merchant, body([(lamp, 1990)], starts_in=3600))  # not yet
    stopped = await create(client, merchant, body([(towel, 990)]))
    stop = f"{merchant.merchant}/groupbuy/activities/{stopped['id']}/stop"
    assert (await client.post(stop, headers=merchant.auth)).is_success

    products = (await client.get(f"{merchant.store}/products")).json()["items"]
    found = {p["id"]: [d for d in p["decorations"] if d["source"] == "groupbuy"] for p in products}
    assert found[red.product_id] == [
        {
            "source": "groupbuy",
            "badge": "团购价",
            "activity_price": 2500,
            "activity": f"groupbuy:{running['id']}",
        }
    ]
    assert found[lamp.product_id] == [] and found[towel.product_id] == []
    card = next(p for p in products if p["id"] == red.product_id)
    assert "团购价" in card["badges"]
