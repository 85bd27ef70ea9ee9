"""The merchant's side of group-buys: activities from creation to stop and delete, every
refusal of a bad activity with its stable code, roles, another store's ids, teams with their
members, closing a team, and an activity's figures on seeded teams."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from core.db import utcnow
from core.runtime import Runtime
from plugins.groupbuy.models import GroupActivity
from storeplug.testing import problem, staff_auth
from tests.commerce.orders_support import make_sku
from tests.commerce.payments_support import pay, use_sandbox
from tests.flashsale.support import buyers
from tests.groupbuy.views_support import Place, body, create, gb_store, people, seed_team


async def test_an_activity_from_creation_to_delete(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await gb_store(client)
    m, auth = f"{merchant.merchant}/groupbuy/activities", merchant.auth
    red = await make_sku(rt, merchant, price=5000, stock=50)
    created = await create(client, merchant, body([(red, 2990)], time_limit_hours=2))
    assert created["status"] == "active" and created["phase"] == "running"
    assert created["items"] == [{"sku_id": red.id, "group_price": 2990}]
    assert (created["team_size"], created["time_limit_hours"]) == (3, 2)
    assert created["allow_solo"] is True and created["virtual_percent"] is None
    async with rt.db.tenant_session(merchant.id) as session:
        minutes = await session.scalar(
            select(GroupActivity.time_limit_minutes).where(GroupActivity.id == created["id"])
        )
    assert minutes == 120  # stored as minutes

    later = await create(client, merchant, body([(red, 1990)], starts_in=8 * 86400))
    assert later["phase"] == "upcoming"
    assert (await client.get(f"{m}/{created['id']}", headers=auth)).json() == created
    first = (await client.get(f"{m}?limit=1", headers=auth)).json()
    assert [a["id"] for a in first["items"]] == [created["id"]] and first["next_cursor"]
    rest = (await client.get(f"{m}?limit=1&cursor={first['next_cursor']}", headers=auth)).json()
    assert [a["id"] for a in rest["items"]] == [later["id"]] and rest["next_cursor"] is None

    replaced = await client.put(
        f"{m}/{created['id']}",
        json=body([(red, 2500)], title="四人团", team_size=4, virtual_percent=75),
        headers=auth,
    )
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["title"], replaced.json()["team_size"]) == ("四人团", 4)
    assert replaced.json()["items"] == [{"sku_id": red.id, "group_price": 2500}]
    assert replaced.json()["virtual_percent"] == 75

    stopped = await client.post(f"{m}/{created['id']}/stop", headers=auth)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "stopped" and stopped.json()["phase"] == "ended"
    assert stopped.json()["stopped_at"] is not None
    again = await client.post(f"{m}/{created['id']}/stop", headers=auth)
    assert again.json()["stopped_at"] == stopped.json()["stopped_at"]  # nothing changes
    problem(
        await client.put(f"{m}/{created['id']}", json=body([(red, 2500)]), headers=auth),
        409,
        "groupbuy.activity_stopped",
    )
    listed = (await client.get(f"{m}?status=stopped", headers=auth)).json()
    assert [a["id"] for a in listed["items"]] == [created["id"]]

    assert (await client.delete(f"{m}/{created['id']}", headers=auth)).status_code == 204
    problem(
        await client.get(f"{m}/{created['id']}", headers=auth), 404, "groupbuy.activity_not_found"
    )
    problem(await client.get(f"{m}/{'x' * 40}", headers=auth), 404, "groupbuy.activity_not_found")


async def test_bad_activities_are_refused_with_their_codes(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await gb_store(client)
    other = await gb_store(client)
    url, auth = f"{merchant.merchant}/groupbuy/activities", merchant.auth
    red = await make_sku(rt, merchant, price=5000, stock=50)
    elsewhere = await make_sku(rt, merchant, price=5000, stock=50)  # another product
    foreign = await make_sku(rt, other, price=5000, stock=50)  # another store's

    async def refused(data: dict[str, Any], status: int, code: str, field: str = "") -> None:
        answer = problem(await client.post(url, json=data, headers=auth), status, code)
        if field:
            assert [e["field"] for e in answer["errors"]] == [field], answer

    good = body([(red, 2990)])
    now = utcnow()
    backwards = {**good, "ends_at": good["starts_at"]}
    await refused(backwards, 422, "groupbuy.invalid_window", "ends_at")
    past = {
        **good,
        "starts_at": (now - timedelta(days=2)).isoformat(),
        "ends_at": (now - timedelta(days=1)).isoformat(),
    }
    await refused(past, 422, "groupbuy.invalid_window", "ends_at")
    naive = {**good, "starts_at": now.replace(tzinfo=None).isoformat()}
    await refused(naive, 422, "groupbuy.invalid_window", "starts_at")
    await refused({**good, "product_id": "0" * 26}, 422, "groupbuy.unknown_product", "product_id")
    # Another store's product gets the very same answer: its existence does not leak.
    await refused(
        body([(red, 2990)], product_id=foreign.product_id),
        422,
        "groupbuy.unknown_product",
        "product_id",
    )
    await refused(
        body([(red, 2990), (elsewhere, 100)], product_id=red.product_id),
        422,
        "groupbuy.unknown_sku",
        "items[1].sku_id",
    )
    await refused(
        body([(foreign, 100)], product_id=red.product_id),
        422,
        "groupbuy.unknown_sku",
        "items[0].sku_id",
    )
    await refused(
        body([(red, 2990), (red, 2000)]), 422, "groupbuy.duplicate_sku", "items[1].sku_id"
    )
    await refused(body([(red, 5000)]), 422, "groupbuy.invalid_price", "items[0].group_price")
    await refused(body([(red, 0)]), 400, "request.invalid")
    await refused(body([(red, 100)], team_size=1), 400, "request.invalid")
    await refused(body([(red, 100)], unknown=1), 400, "request.invalid")
    listed = (await client.get(url, headers=auth)).json()
    assert listed["items"] == []  # nothing was written


async def test_one_active_group_buy_per_product_at_a_time(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await gb_store(client)
    url, auth = f"{merchant.merchant}/groupbuy/activities", merchant.auth
    red = await make_sku(rt, merchant, price=5000, stock=50)
    week = 7 * 86400
    first = await create(client, merchant, body([(red, 2990)], starts_in=-60, lasts=week))
    clash = body([(red, 1990)], starts_in=86400, lasts=3 * 86400)
    problem(await client.post(url, json=clash, headers=auth), 409, "groupbuy.overlapping_activity")
    after = await create(client, merchant, body([(red, 1990)], starts_in=week, lasts=week))
    # Moving the later one into the first one's window is refused the same way.
    moved = await client.put(f"{url}/{after['id']}", json=clash, headers=auth)
    problem(moved, 409, "groupbuy.overlapping_activity")
    # Replacing an activity never clashes with itself.
    same = await client.put(f"{url}/{first['id']}", json=body([(red, 2000)]), headers=auth)
    assert same.status_code == 200, same.text
    # A stopped one no longer blocks.
    assert (await client.post(f"{url}/{first['id']}/stop", headers=auth)).status_code == 200
    assert (await client.post(url, json=clash, headers=auth)).status_code == 201


async def test_clerks_read_and_managers_write(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await gb_store(client)
    url = f"{merchant.merchant}/groupbuy"
    red = await make_sku(rt, merchant, price=5000, stock=50)
    activity = await create(client, merchant, body([(red, 2990)]))
    [leader] = await people(rt, merchant, 1)
    team = await seed_team(rt, merchant, activity, red, [Place(leader, leader=True)])
    clerk = await staff_auth(client, merchant, "clerk")
    a = f"{url}/activities/{activity['id']}"
    for path in ("/activities", f"/activities/{activity['id']}", "/teams", f"/teams/{team.id}"):
        assert (await client.get(url + path, headers=clerk)).status_code == 200, path
    assert (await client.get(f"{a}/stats", headers=clerk)).status_code == 200
    for method, path, data in (
        ("POST", f"{url}/activities", body([(red, 100)], starts_in=30 * 86400)),
        ("PUT", a, body([(red, 100)])),
        ("POST", f"{a}/stop", None),
        ("DELETE", a, None),
        ("POST", f"{url}/teams/{team.id}/close", {"reason": "no"}),
    ):
        response = await client.request(method, path, json=data, headers=clerk)
        problem(response, 403, "auth.role_required")
    problem(await client.get(f"{url}/activities"), 401, "auth.required")
    manager = await staff_auth(client, merchant, "manager")
    later = body([(red, 100)], starts_in=30 * 86400)
    made = await client.post(f"{url}/activities", json=later, headers=manager)
    assert made.status_code == 201, made.text


async def test_another_stores_ids_are_not_found(client: httpx.AsyncClient, rt: Runtime) -> None:
    a, b = await gb_store(client), await gb_store(client)
    red = await make_sku(rt, a, price=5000, stock=50)
    activity = await create(client, a, body([(red, 2990)]))
    [leader] = await people(rt, a, 1)
    team = await seed_team(rt, a, activity, red, [Place(leader, leader=True)])
    url, auth = f"{b.merchant}/groupbuy", b.auth
    mine = f"{url}/activities/{activity['id']}"
    for method, path, data in (
        ("GET", mine, None),
        ("PUT", mine, body([(red, 100)])),
        ("POST", f"{mine}/stop", None),
        ("GET", f"{mine}/stats", None),
        ("DELETE", mine, None),
    ):
        response = await client.request(method, path, json=data, headers=auth)
        problem(response, 404, "groupbuy.activity_not_found")
    for method, path in (("GET", f"/teams/{team.id}"), ("POST", f"/teams/{team.id}/close")):
        response = await client.request(method, url + path, json={}, headers=auth)
        problem(response, 404, "groupbuy.team_not_found")
    listed = await client.get(f"{url}/teams?activity_id={activity['id']}", headers=auth)
    assert listed.json()["items"] == []
    # A's activity and team are untouched.
    seen = await client.get(f"{a.merchant}/groupbuy/activities/{activity['id']}", headers=a.auth)
    assert seen.json() == activity
    found = await client.get(f"{a.merchant}/groupbuy/teams/{team.id}", headers=a.auth)
    assert found.json()["status"] == "forming"


async def test_an_activity_with_teams_is_stopped_not_deleted(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await gb_store(client)
    url, auth = f"{merchant.merchant}/groupbuy/activities", merchant.auth
    red = await make_sku(rt, merchant, price=5000, stock=50)
    blue = await make_sku(rt, merchant, price=5000, stock=50)
    activity = await create(client, merchant, body([(red, 2990)]))
    [leader] = await people(rt, merchant, 1)
    await seed_team(rt, merchant, activity, red, [Place(leader, leader=True)])
    problem(await client.delete(f"{url}/{activity['id']}", headers=auth), 409, "groupbuy.has_teams")
    moved = await client.put(f"{url}/{activity['id']}", json=body([(blue, 100)]), headers=auth)
    problem(moved, 409, "groupbuy.has_teams")  # its teams are of this product
    # The settings a team copied stay; new ones get the new team size.
    bigger = await client.put(
        f"{url}/{activity['id']}", json=body([(red, 2990)], team_size=5), headers=auth
    )
    assert bigger.status_code == 200, bigger.text
    teams = (await client.get(f"{merchant.merchant}/groupbuy/teams", headers=auth)).json()
    assert [t["size"] for t in teams["items"]] == [3]
    assert (await client.post(f"{url}/{activity['id']}/stop", headers=auth)).status_code == 200


async def test_teams_list_filters_and_members(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await gb_store(client)
    url, auth = f"{merchant.merchant}/groupbuy/teams", merchant.auth
    red = await make_sku(rt, merchant, price=5000, stock=50)
    blue = await make_sku(rt, merchant, price=3000, stock=50)
    one = await create(client, merchant, body([(red, 2990)]))
    two = await create(client, merchant, body([(blue, 1990)]))
    x, y, z = await people(rt, merchant, 3)
    forming = await seed_team(
        rt, merchant, one, red, [Place(y, status="held"), Place(x, leader=True), Place(z)]
    )
    done = await seed_team(
        rt, merchant, one, red, [Place(y, leader=True), Place(x), Place(z)], status="succeeded"
    )
    other = await seed_team(rt, merchant, two, blue, [Place(z, leader=True)])

    def ids(response: httpx.Response) -> list[str]:
        assert response.status_code == 200, response.text
        return [team["id"] for team in response.json()["items"]]

    assert ids(await client.get(url, headers=auth)) == [forming.id, done.id, other.id]
    assert ids(await client.get(f"{url}?activity_id={one['id']}", headers=auth)) == [
        forming.id,
        done.id,
    ]
    assert ids(await client.get(f"{url}?status=succeeded", headers=auth)) == [done.id]
    page = (await client.get(f"{url}?limit=2", headers=auth)).json()
    assert page["next_cursor"] and page["items"][0]["members"] == []  # lists stay light
    rest = await client.get(f"{url}?limit=2&cursor={page['next_cursor']}", headers=auth)
    assert ids(rest) == [other.id]
    problem(await client.get(f"{url}?status=nonsense", headers=auth), 400, "request.invalid")

    detail = (await client.get(f"{url}/{forming.id}", headers=auth)).json()
    assert (detail["status"], detail["seats"], detail["paid"]) == ("forming", 3, 2)
    assert detail["leader_id"] == x.id
    members = detail["members"]
    assert [(p["member_id"], p["is_leader"], p["status"]) for p in members] == [
        (x.id, True, "paid"),
        (y.id, False, "held"),
        (z.id, False, "paid"),
    ]
    assert [p["order_id"] for p in members] == [forming.order_ids[1], *forming.order_ids[::2]]
    problem(await client.get(f"{url}/{'0' * 26}", headers=auth), 404, "groupbuy.team_not_found")


async def test_closing_a_forming_team(client: httpx.AsyncClient, rt: Runtime) -> None:
    """Through the buying routes: the leader opens a team and pays; the merchant closes it."""
    merchant = await gb_store(client)
    await use_sandbox(client, merchant)
    red = await make_sku(rt, merchant, price=5000, stock=50)
    activity = await create(client, merchant, body([(red, 2990)]))
    leader, friend = await buyers(rt, merchant, 2)
    store = f"{merchant.store}/groupbuy"

    def buy(buyer: Any) -> dict[str, Any]:
        return {
            "sku_id": red.id,
            "fulfillment": "express",
            "fulfillment_data": {"address_id": buyer.address_id},
        }

    open_url = f"{store}/activities/{activity['id']}/open"
    problem(await client.post(open_url, json=buy(leader)), 401, "auth.required")
    keyless = await client.post(open_url, json=buy(leader), headers=leader.auth)
    problem(keyless, 400, "idempotency.key_required")
    headers = {**leader.auth, "Idempotency-Key": "open-1"}
    opened = await client.post(open_url, json=buy(leader), headers=headers)
    assert opened.status_code == 201, opened.text
    replay = await client.post(open_url, json=buy(leader), headers=headers)
    assert replay.json() == opened.json()  # the key reached the buying flow
    team_id, order_id = opened.json()["team_id"], opened.json()["order_id"]
    assert (await pay(client, merchant, leader, order_id)).status_code == 201
    joined = await client.post(
        f"{store}/teams/{team_id}/join",
        json=buy(friend),
        headers={**friend.auth, "Idempotency-Key": "join-1"},
    )
    assert joined.status_code == 201, joined.text
    assert joined.json()["team_id"] == team_id

    url, auth = f"{merchant.merchant}/groupbuy/teams/{team_id}", merchant.auth
    assert (await client.get(url, headers=auth)).json()["status"] == "forming"
    closed = await client.post(f"{url}/close", json={"reason": "库存不足"}, headers=auth)
    assert closed.status_code == 200, closed.text
    team = closed.json()
    assert (team["status"], team["close_reason"]) == ("failed", "库存不足")
    assert [p["is_leader"] for p in team["members"]] == [True, False]
    problem(await client.post(f"{url}/close", headers=auth), 409, "groupbuy.team_closed")


async def test_stats_on_seeded_teams(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await gb_store(client)
    red = await make_sku(rt, merchant, price=5000, stock=100)
    blue = await make_sku(rt, merchant, price=5000, stock=100)
    activity = await create(client, merchant, body([(red, 2990)]))
    elsewhere = await create(client, merchant, body([(blue, 2990)]))
    p = await people(rt, merchant, 12)
    await seed_team(  # succeeded; one member got 500 back in after-sales
        rt,
        merchant,
        activity,
        red,
        [Place(p[0], leader=True), Place(p[1]), Place(p[2], refunded=500)],
        status="succeeded",
    )
    await seed_team(  # failed: two paid and were refunded, one never paid
        rt,
        merchant,
        activity,
        red,
        [
            Place(p[3], status="failed", leader=True, refunded=5000),
            Place(p[4], status="failed", refunded=5000),
            Place(p[5], status="failed", had_paid=False),
        ],
        status="failed",
    )
    await seed_team(  # forming: the leader paid, one place held, one member left (refunded)
        rt,
        merchant,
        activity,
        red,
        [
            Place(p[6], leader=True),
            Place(p[7], status="held"),
            Place(p[8], status="left", refunded=5000),
        ],
    )
    await seed_team(  # completed virtually: two paid, one placeholder
        rt,
        merchant,
        activity,
        red,
        [Place(p[9], leader=True), Place(p[10])],
        status="succeeded",
        placeholders=1,
    )
    await seed_team(rt, merchant, activity, red, [Place(p[11], leader=True, status="held")],
                    status="opening")  # fmt: skip
    await seed_team(
        rt,
        merchant,
        activity,
        red,
        [Place(p[0], leader=True, status="released", had_paid=False)],
        status="cancelled",
    )
    await seed_team(rt, merchant, elsewhere, blue, [Place(p[1], leader=True)])

    url = f"{merchant.merchant}/groupbuy/activities"
    stats = (await client.get(f"{url}/{activity['id']}/stats", headers=merchant.auth)).json()
    assert stats == {
        "activity_id": activity["id"],
        "teams_opened": 4,  # opening and cancelled teams never had a paying leader
        "forming": 1,
        "succeeded": 2,
        "failed": 1,
        "virtual_completions": 1,
        "success_rate_percent": 66,  # 2 of 3 decided
        "orders_paid": 9,
        "gmv": 15000 - 500 + 5000 + 10000,  # failed teams and refunds do not count
        "refunds": 500 + 2 * 5000 + 5000,
    }
    other = (await client.get(f"{url}/{elsewhere['id']}/stats", headers=merchant.auth)).json()
    assert (other["teams_opened"], other["orders_paid"], other["gmv"]) == (1, 1, 5000)
    empty = await create(client, merchant, body([(red, 100)], starts_in=30 * 86400, lasts=86400))
    nothing = (await client.get(f"{url}/{empty['id']}/stats", headers=merchant.auth)).json()
    assert nothing["success_rate_percent"] == 0 and nothing["gmv"] == 0


async def test_the_plugin_switched_off_answers_plugin_disabled(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await gb_store(client)
    red = await make_sku(rt, merchant, price=5000, stock=50)
    activity = await create(client, merchant, body([(red, 2990)]))
    off = await client.post(f"{merchant.merchant}/plugins/groupbuy/disable", headers=merchant.auth)
    assert off.status_code == 200, off.text
    for url in (
        f"{merchant.merchant}/groupbuy/activities",
        f"{merchant.merchant}/groupbuy/activities/{activity['id']}",
        f"{merchant.store}/groupbuy/activities",
        f"{merchant.store}/groupbuy/teams",
    ):
        problem(await client.get(url, headers=merchant.auth), 404, "plugin.disabled")
    products = (await client.get(f"{merchant.store}/products")).json()["items"]
    assert not [d for p in products for d in p["decorations"] if d["source"] == "groupbuy"]
