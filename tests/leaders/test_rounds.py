"""Group rounds over HTTP: publishing, buying at round prices to the buyer's leader point,
orders closing at the cut-off, the pick list per leader (JSON and CSV), arrival releasing the
pickup codes, and the leader verifying them; the refusals around it."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import httpx

from core.runtime import Runtime
from storeplug.testing import make_member, problem
from tests.commerce.orders_support import make_sku, order_row, place
from tests.commerce.payments_support import pay, use_sandbox
from tests.leaders.support import (
    ALL_DAY,
    arrive,
    at_point,
    bind,
    close_round,
    decide,
    leader_orders,
    leaders_store,
    make_round,
    new_leader,
    round_body,
    round_order,
)
from tests.pickup.support import ticket


async def test_a_round_from_publishing_to_pickup(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await leaders_store(client, **ALL_DAY)
    await use_sandbox(client, merchant)
    eggs = await make_sku(rt, merchant, price=1500, stock=50, title="土鸡蛋")
    milk = await make_sku(rt, merchant, price=800, stock=50, title="鲜牛奶")
    zhang, li = (
        await new_leader(client, rt, merchant, "张姐"),
        await new_leader(client, rt, merchant, "李哥"),
    )
    round_ = await make_round(client, merchant, [(eggs.id, 990), (milk.id, 600)])
    assert round_["phase"] == "open" and round_["activity"] == f"leaders:{round_['id']}"
    listed = (await client.get(f"{merchant.store}/leaders/rounds")).json()["items"]
    assert [(r["id"], [i["round_price"] for i in r["items"]]) for r in listed] == [
        (round_["id"], [990, 600] if round_["items"][0]["sku_id"] == eggs.id else [600, 990])
    ]

    neighbour = await make_member(rt, merchant, nickname="王阿姨")
    assert (await bind(client, merchant, neighbour, zhang.id)).json()["bound"] is True
    placed = await place(
        client, merchant, neighbour, round_order(round_["id"], [(eggs.id, 2), (milk.id, 1)])
    )
    assert placed.status_code == 201, placed.text
    order = placed.json()
    # To the leader's point, at round prices, held until the goods arrive.
    assert order["fulfillment"] == "pickup"
    assert order["fulfillment_data"]["point_id"] == zhang.point_id
    assert order["payable"] == 990 * 2 + 600
    assert {(a["label"], a["amount"]) for a in order["adjustments"]} == {
        ("团购价", -(1500 - 990) * 2),
        ("团购价", -(800 - 600)),
    }
    assert order["fulfillment_hold"] == "leaders"
    deadline = datetime.fromisoformat(order["payment_deadline"])
    assert deadline <= datetime.fromisoformat(round_["cutoff_at"])

    other = await make_member(rt, merchant, nickname="赵叔")  # not bound: picks li's point
    at_li = await place(
        client, merchant, other, round_order(round_["id"], [(eggs.id, 3)], **at_point(li.point_id))
    )
    assert at_li.status_code == 201, at_li.text
    assert await leader_orders(rt, merchant) == {
        order["id"]: (zhang.id, "point"),
        at_li.json()["id"]: (li.id, "point"),
    }

    assert (await pay(client, merchant, neighbour, order["id"])).status_code == 201
    assert (await pay(client, merchant, other, at_li.json()["id"])).status_code == 201
    row = await order_row(rt, merchant, order["id"])
    assert (row.status, row.fulfillment_hold) == ("paid", "leaders")
    assert (await ticket(client, merchant, neighbour, order["id"]))["code"] is None

    # Before the cut-off: the pick list grows, nothing has arrived yet.
    early = await client.get(
        f"{merchant.merchant}/leaders/rounds/{round_['id']}/pick-lists/{zhang.id}",
        headers=merchant.auth,
    )
    assert early.json()["final"] is False
    problem(await arrive(client, merchant, zhang, round_["id"]), 409, "leaders.round_open")

    await close_round(client, merchant, round_["id"])
    late = await place(client, merchant, neighbour, round_order(round_["id"], [(eggs.id, 1)]))
    problem(late, 422, "leaders.round_closed")

    lists = await client.get(
        f"{merchant.merchant}/leaders/rounds/{round_['id']}/pick-lists", headers=merchant.auth
    )
    assert lists.status_code == 200, lists.text
    by_leader = {p["leader_id"]: p for p in lists.json()["items"]}
    assert set(by_leader) == {zhang.id, li.id}
    mine = by_leader[zhang.id]
    assert mine["final"] is True and mine["status"] == "pending"
    assert {(i["title"], i["quantity"]) for i in mine["items"]} == {("土鸡蛋", 2), ("鲜牛奶", 1)}
    assert [(o["number"], o["buyer"]) for o in mine["orders"]] == [(order["number"], "王阿姨")]
    assert [(i["title"], i["quantity"]) for i in by_leader[li.id]["items"]] == [("土鸡蛋", 3)]

    exported = await client.get(
        f"{merchant.merchant}/leaders/rounds/{round_['id']}/pick-lists.csv", headers=merchant.auth
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:5] == [
        "leader",
        "leader_phone",
        "point_address",
        "delivery_date",
        "order_number",
    ]
    assert sorted((r[0], r[4], r[6], r[8]) for r in rows[1:]) == sorted(
        [
            ("张姐", order["number"], "土鸡蛋", "2"),
            ("张姐", order["number"], "鲜牛奶", "1"),
            ("李哥", at_li.json()["number"], "土鸡蛋", "3"),
        ]
    )

    # The leader sees their own: the orders of the round, the pick list.
    seen = await client.get(
        f"{merchant.store}/leaders/me/orders", params={"round_id": round_["id"]}, headers=zhang.auth
    )
    assert [o["order_id"] for o in seen.json()["items"]] == [order["id"]]
    own = await client.get(
        f"{merchant.store}/leaders/me/rounds/{round_['id']}/pick-list", headers=zhang.auth
    )
    assert [o["order_id"] for o in own.json()["orders"]] == [order["id"]]

    # Arrival: the buyer gets the code, the leader verifies it at their point.
    arrived = await arrive(client, merchant, zhang, round_["id"])
    assert arrived.status_code == 200, arrived.text
    assert arrived.json()["status"] == "arrived" and arrived.json()["arrived_at"]
    assert (await order_row(rt, merchant, order["id"])).status == "awaiting_pickup"
    assert (await order_row(rt, merchant, at_li.json()["id"])).fulfillment_hold == "leaders"
    code = (await ticket(client, merchant, neighbour, order["id"]))["code"]
    assert code is not None
    again = await arrive(client, merchant, zhang, round_["id"])  # twice: nothing more happens
    assert again.status_code == 200, again.text

    wrong = await client.post(
        f"{merchant.store}/pickup/points/{li.point_id}/verify",
        json={"code": code},
        headers=zhang.auth,
    )
    problem(wrong, 403, "pickup.not_point_staff")
    stolen = await client.post(
        f"{merchant.store}/pickup/points/{li.point_id}/verify", json={"code": code}, headers=li.auth
    )
    problem(stolen, 404, "pickup.code_invalid")
    done = await client.post(
        f"{merchant.store}/pickup/points/{zhang.point_id}/verify",
        json={"code": code},
        headers=zhang.auth,
    )
    assert done.status_code == 200, done.text
    assert (await order_row(rt, merchant, order["id"])).status == "completed"

    # The merchant confirms for a leader who was suspended after the round.
    await decide(client, merchant, li.id, "suspend", {"reason": "请假"})
    problem(await arrive(client, merchant, li, round_["id"]), 403, "leaders.not_a_leader")
    for_li = await client.post(
        f"{merchant.merchant}/leaders/rounds/{round_['id']}/pick-lists/{li.id}/arrival",
        headers=merchant.auth,
    )
    assert for_li.status_code == 200, for_li.text
    assert (await order_row(rt, merchant, at_li.json()["id"])).status == "awaiting_pickup"


async def test_an_order_unpaid_at_the_arrival_gets_its_code_when_paid(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await leaders_store(client, **ALL_DAY)
    await use_sandbox(client, merchant)
    sku = await make_sku(rt, merchant, price=1000, stock=10)
    leader = await new_leader(client, rt, merchant)
    round_ = await make_round(client, merchant, [(sku.id, 800)])
    buyer = await make_member(rt, merchant)
    placed = await place(
        client,
        merchant,
        buyer,
        round_order(round_["id"], [(sku.id, 1)], **at_point(leader.point_id)),
    )
    assert placed.status_code == 201, placed.text
    await close_round(client, merchant, round_["id"])
    assert (await arrive(client, merchant, leader, round_["id"])).status_code == 200
    row = await order_row(rt, merchant, placed.json()["id"])
    assert (row.status, row.fulfillment_hold) == ("pending_payment", "")
    assert (await pay(client, merchant, buyer, placed.json()["id"])).status_code == 201
    assert (await order_row(rt, merchant, placed.json()["id"])).status == "awaiting_pickup"
    assert (await ticket(client, merchant, buyer, placed.json()["id"]))["code"] is not None


async def test_what_a_round_cart_refuses(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await leaders_store(client, **ALL_DAY)
    sku, other = await make_sku(rt, merchant, price=1000), await make_sku(rt, merchant, price=500)
    leader = await new_leader(client, rt, merchant)
    open_round = await make_round(client, merchant, [(sku.id, 800)])
    second = await make_round(client, merchant, [(other.id, 400)])
    later = await make_round(
        client,
        merchant,
        [(sku.id, 700)],
        starts_in=timedelta(hours=1),
        cutoff_in=timedelta(hours=3),
    )
    buyer = await make_member(rt, merchant)
    here = at_point(leader.point_id)

    async def refused(body: dict[str, object], code: str) -> None:
        problem(await place(client, merchant, buyer, body), 422, code)

    # Not bound and no point chosen: a round's order needs a leader's point.
    await refused(round_order(open_round["id"], [(sku.id, 1)]), "leaders.leader_point_required")
    await refused(round_order(open_round["id"], [(other.id, 1)], **here), "leaders.not_in_round")
    await refused(round_order(later["id"], [(sku.id, 1)], **here), "leaders.round_not_started")
    await refused(round_order("0" * 26, [(sku.id, 1)], **here), "leaders.not_in_round")
    mixed = round_order(open_round["id"], [(sku.id, 1)], **here)
    mixed["items"].append(
        {"sku_id": other.id, "quantity": 1, "activity": f"leaders:{second['id']}"}
    )
    await refused(mixed, "leaders.mixed_rounds")
    plain = {"items": [{"sku_id": other.id, "quantity": 1}], **here}
    await refused(plain, "leaders.round_only")
    with_plain = round_order(open_round["id"], [(sku.id, 1)], **here)
    with_plain["items"].append({"sku_id": other.id, "quantity": 1})
    await refused(with_plain, "leaders.round_only")
    # A suspended leader's point takes nothing.
    await decide(client, merchant, leader.id, "suspend", {"reason": "x"})
    await refused(
        round_order(open_round["id"], [(sku.id, 1)], **here), "leaders.leader_point_required"
    )


async def test_rounds_are_checked(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await leaders_store(client)
    sku = await make_sku(rt, merchant)
    url = f"{merchant.merchant}/leaders/rounds/"

    async def invalid(body: dict[str, object], code: str, field: str) -> None:
        response = await client.post(url, json=body, headers=merchant.auth)
        found = problem(response, 422, code)
        assert found["errors"][0]["field"] == field, found

    await invalid(
        round_body([(sku.id, 1)], starts_in=timedelta(hours=3)),
        "leaders.invalid_round",
        "cutoff_at",
    )
    await invalid(
        round_body([(sku.id, 1)], cutoff_in=timedelta(hours=-1), starts_in=timedelta(hours=-2)),
        "leaders.invalid_round",
        "cutoff_at",
    )
    await invalid(
        round_body([(sku.id, 1)], delivery_in_days=-1), "leaders.invalid_round", "delivery_date"
    )
    await invalid(
        round_body([(sku.id, 1)], delivery_in_days=15), "leaders.invalid_round", "delivery_date"
    )
    await invalid(
        round_body([(sku.id, 1)], starts_in=timedelta(days=-40)),
        "leaders.invalid_round",
        "cutoff_at",
    )
    await invalid(round_body([("0" * 26, 1)]), "leaders.unknown_sku", "items[0].sku_id")
    await invalid(round_body([(sku.id, 1), (sku.id, 2)]), "leaders.invalid_round", "items")
    zero = round_body([(sku.id, 0)])
    problem(await client.post(url, json=zero, headers=merchant.auth), 400, "request.invalid")
    closed = await make_round(client, merchant, [(sku.id, 1)])
    await close_round(client, merchant, closed["id"])
    again = await client.post(f"{url}{closed['id']}/close", headers=merchant.auth)
    problem(again, 409, "leaders.round_closed")
    assert (await client.get(f"{url}{closed['id']}", headers=merchant.auth)).json()[
        "phase"
    ] == "closed"
    store = (await client.get(f"{merchant.store}/leaders/rounds")).json()["items"]
    assert closed["id"] not in [r["id"] for r in store]
