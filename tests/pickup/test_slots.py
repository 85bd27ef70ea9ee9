"""Slots: capacity holds under concurrent orders, a cancelled order gives its place back, and
closed points, holidays and odd slots are refused with their own codes."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta

import httpx

from core.orders.placement import CST
from core.runtime import Runtime
from storeplug.testing import make_member, problem
from tests.commerce.orders_support import add_to_cart, make_sku, place
from tests.pickup.support import HERE, first_slot, make_point, pickup_body, pickup_store


async def test_capacity_holds_under_concurrent_orders(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await pickup_store(client)
    point = await make_point(client, merchant, "店", *HERE, capacity=2)
    sku = await make_sku(rt, merchant, stock=100)
    buyers = [await make_member(rt, merchant, f"b{i}") for i in range(8)]
    slot = await first_slot(client, merchant, point["id"])
    answers = await asyncio.gather(
        *(place(client, merchant, b, pickup_body(sku.id, point["id"], slot)) for b in buyers)
    )
    placed = [(b, a) for b, a in zip(buyers, answers, strict=True) if a.status_code == 201]
    assert len(placed) == 2, [a.text for a in answers]
    for refused in (a for a in answers if a.status_code != 201):
        assert refused.status_code in (409, 422), refused.text
        assert refused.json()["code"] == "pickup.slot_full", refused.text
    listed = await client.get(f"{merchant.store}/pickup/points/{point['id']}/slots")
    [booked] = [item for item in listed.json()["items"] if item["starts_at"] == slot]
    assert (booked["left"], booked["available"]) == (0, False)

    # A cancelled order gives its place back, to the next buyer only.
    owner, answer = placed[0]
    cancelled = await client.post(
        f"{merchant.store}/orders/{answer.json()['id']}/cancel",
        json={"reason": "changed my mind"},
        headers=owner.auth,
    )
    assert cancelled.status_code == 200, cancelled.text
    others = [b for b in buyers if b not in (p[0] for p in placed)]
    again = await place(client, merchant, others[0], pickup_body(sku.id, point["id"], slot))
    assert again.status_code == 201, again.text
    full = await place(client, merchant, others[1], pickup_body(sku.id, point["id"], slot))
    problem(full, 422, "pickup.slot_full")


def _tomorrow_at(hour: int) -> datetime:
    local = datetime.now(CST).replace(hour=hour, minute=0, second=0, microsecond=0)
    return local + timedelta(days=1)


async def test_closed_points_holidays_and_odd_slots(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await pickup_store(client)
    tomorrow = _tomorrow_at(10)
    weekday_hours: list[list[list[str]]] = [[["09:00", "18:00"]] for _ in range(7)]
    point = await make_point(client, merchant, "店", *HERE, hours=weekday_hours)
    sku = await make_sku(rt, merchant)
    buyer = await make_member(rt, merchant)

    async def order(point_id: str, slot: object) -> httpx.Response:
        body = pickup_body(sku.id, point_id, str(slot))
        body["fulfillment_data"]["slot"] = slot
        return await place(client, merchant, buyer, body, key=secrets.token_hex(6))

    fine = await order(point["id"], tomorrow.isoformat())
    assert fine.status_code == 201, fine.text
    assert fine.json()["fulfillment_data"]["slot"] == tomorrow.isoformat()
    problem(
        await order(point["id"], (tomorrow + timedelta(minutes=7)).isoformat()),
        422,
        "pickup.slot_unavailable",
    )
    problem(await order(point["id"], _tomorrow_at(20).isoformat()), 422, "pickup.slot_unavailable")
    problem(
        await order(point["id"], (tomorrow - timedelta(days=2)).isoformat()),
        422,
        "pickup.slot_unavailable",
    )
    problem(await order(point["id"], "2026-13-45T99:00"), 422, "pickup.point_required")
    problem(await order(point["id"], 12), 422, "pickup.point_required")
    problem(await order("x" * 300, tomorrow.isoformat()), 422, "pickup.point_required")
    problem(
        await order("01NOSUCHPOINT0000000000000", tomorrow.isoformat()),
        422,
        "pickup.point_not_found",
    )

    # A holiday closes the point that day; an inactive point is closed altogether.
    edit = {
        "name": "店",
        "address": "店 1号",
        "latitude": HERE[0],
        "longitude": HERE[1],
        "hours": weekday_hours,
        "holidays": [tomorrow.date().isoformat()],
    }
    changed = await client.put(
        f"{merchant.merchant}/pickup/points/{point['id']}", json=edit, headers=merchant.auth
    )
    assert changed.status_code == 200, changed.text
    problem(await order(point["id"], tomorrow.isoformat()), 422, "pickup.point_closed")
    edit.update(holidays=[], status="inactive")
    changed = await client.put(
        f"{merchant.merchant}/pickup/points/{point['id']}", json=edit, headers=merchant.auth
    )
    assert changed.status_code == 200, changed.text
    problem(await order(point["id"], tomorrow.isoformat()), 422, "pickup.point_closed")
    listed = await client.get(f"{merchant.store}/pickup/points")
    assert listed.json()["items"] == []


async def test_bad_points_are_refused(client: httpx.AsyncClient) -> None:
    merchant = await pickup_store(client)
    url = f"{merchant.merchant}/pickup/points/"
    base = {
        "name": "店",
        "address": "a",
        "latitude": 1.0,
        "longitude": 1.0,
        "hours": [[] for _ in range(7)],
    }
    for bad in (
        {**base, "latitude": 91},
        {**base, "hours": [[] for _ in range(6)]},
        {**base, "hours": [[["25:00", "26:00"]]] + [[] for _ in range(6)]},
        {**base, "slot_minutes": 0},
        {**base, "capacity": 0},
        {**base, "name": ""},
    ):
        answer = await client.post(url, json=bad, headers=merchant.auth)
        assert answer.status_code == 400, (bad, answer.text)
    backwards = {**base, "hours": [[["18:00", "09:00"]]] + [[] for _ in range(6)]}
    problem(
        await client.post(url, json=backwards, headers=merchant.auth), 422, "pickup.invalid_hours"
    )
    bad_settings = await client.put(
        f"{merchant.merchant}/plugins/pickup/settings",
        json={"settings": {"discount_kind": "percent", "discount_value": 150}},
        headers=merchant.auth,
    )
    assert bad_settings.status_code in (400, 422), bad_settings.text


async def test_the_cart_preview_shows_pickup_and_why_not(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await pickup_store(client, discount_kind="amount", discount_value=100)
    point = await make_point(client, merchant, "店", *HERE, capacity=1)
    sku = await make_sku(rt, merchant, price=1000)
    buyer, rival = await make_member(rt, merchant), await make_member(rt, merchant)
    await add_to_cart(rt, merchant, buyer.id, sku, 1)
    slot = await first_slot(client, merchant, point["id"])
    choice = {"fulfillment": "pickup", "fulfillment_data": {"point_id": point["id"], "slot": slot}}

    preview = await client.post(f"{merchant.store}/cart/preview", json=choice, headers=buyer.auth)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    [pickup] = [o for o in body["fulfillment_options"] if o["method"] == "pickup"]
    assert (pickup["fee"], pickup["available"], body["payable"], body["ok"]) == (0, True, 900, True)

    taken = await place(client, merchant, rival, pickup_body(sku.id, point["id"], slot))
    assert taken.status_code == 201, taken.text
    preview = await client.post(f"{merchant.store}/cart/preview", json=choice, headers=buyer.auth)
    body = preview.json()
    [pickup] = [o for o in body["fulfillment_options"] if o["method"] == "pickup"]
    assert (pickup["available"], body["ok"]) == (False, False)
    assert "pickup.slot_full" in [p["code"] for p in body["problems"]]
    # No discount for a choice that cannot be had.
    assert body["payable"] == 1000
