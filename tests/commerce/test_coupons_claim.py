"""Members claiming coupons and seeing their own, over HTTP: what is claimable, the stock and
per-member limits (also under real concurrent claims), other stores' ids, and the statuses
a member reads (available, locked, used, expired)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx

from core.coupons.models import MemberCoupon
from core.db import utcnow
from core.runtime import Runtime
from storeplug.testing import make_member, problem
from tests.commerce.coupons_support import (
    TEMPLATES,
    claim,
    coupon_row,
    coupons_of,
    expire,
    make_template,
    template_row,
)
from tests.commerce.orders_support import new_shop


async def test_claiming_follows_stock_limit_and_status(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    shop = await new_shop(client, rt)
    m, buyer = shop.merchant, shop.buyer
    open_one = await make_template(client, m, per_member_limit=2, total_stock=10)
    hidden = await make_template(client, m, claimable=False)
    stopped = await make_template(client, m)
    stop = await client.patch(
        f"{m.merchant}{TEMPLATES}/{stopped['id']}", json={"status": "stopped"}, headers=m.auth
    )
    assert stop.status_code == 200, stop.text
    scarce = await make_template(client, m, total_stock=1)
    first = await make_member(rt, m, "early bird")
    assert (await claim(client, m, first, scarce["id"])).status_code == 201
    start = datetime(2031, 3, 1, tzinfo=UTC)
    dated = await make_template(
        client, m, valid_days=None, valid_from=start.isoformat(), valid_until="2031-04-01T00:00:00Z"
    )

    listed = await client.get(f"{m.store}/coupons", headers=buyer.auth)
    assert listed.status_code == 200, listed.text
    items = {c["id"]: c for c in listed.json()["items"]}
    assert set(items) == {open_one["id"], dated["id"]}  # not hidden, stopped or sold out
    offer = items[open_one["id"]]
    assert (offer["claimed"], offer["can_claim"], offer["remaining"]) == (0, True, 10)
    assert (offer["label"], offer["per_member_limit"], offer["valid_days"]) == ("立减5元", 2, 30)

    got = await claim(client, m, buyer, open_one["id"])
    assert got.status_code == 201, got.text
    coupon = got.json()
    assert (coupon["status"], coupon["source"], coupon["template_id"]) == (
        "available",
        "claim",
        open_one["id"],
    )
    until = datetime.fromisoformat(coupon["valid_until"])
    assert abs(until - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)
    assert (await claim(client, m, buyer, open_one["id"])).status_code == 201
    problem(await claim(client, m, buyer, open_one["id"]), 409, "coupon.limit_reached")
    problem(await claim(client, m, buyer, hidden["id"]), 409, "coupon.not_claimable")
    problem(await claim(client, m, buyer, stopped["id"]), 409, "coupon.not_claimable")
    problem(await claim(client, m, buyer, scarce["id"]), 409, "coupon.sold_out")
    fixed = (await claim(client, m, buyer, dated["id"])).json()
    assert datetime.fromisoformat(fixed["valid_from"]) == start
    assert datetime.fromisoformat(fixed["valid_until"]) == datetime(2031, 4, 1, tzinfo=UTC)

    after = {
        c["id"]: c
        for c in (await client.get(f"{m.store}/coupons", headers=buyer.auth)).json()["items"]
    }
    assert (after[open_one["id"]]["claimed"], after[open_one["id"]]["can_claim"]) == (2, False)
    assert after[open_one["id"]]["remaining"] == 8
    template = await template_row(rt, m, open_one["id"])
    assert (template.issued_count, template.used_count) == (2, 0)

    # Strangers and other stores: no token is 401; another store's template is 404.
    assert (await client.post(f"{m.store}/coupons/{open_one['id']}/claim")).status_code == 401
    other = await new_shop(client, rt)
    foreign = await make_template(client, other.merchant)
    problem(await claim(client, m, buyer, foreign["id"]), 404, "coupon.not_found")
    problem(
        await claim(client, other.merchant, other.buyer, open_one["id"]), 404, "coupon.not_found"
    )
    problem(await claim(client, m, buyer, "0" * 26), 404, "coupon.not_found")
    assert (await claim(client, m, buyer, "bad-id!")).status_code in (400, 404)
    assert (await template_row(rt, other.merchant, foreign["id"])).issued_count == 0


async def test_my_coupons_show_their_status_and_page(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    shop = await new_shop(client, rt)
    m, buyer = shop.merchant, shop.buyer
    template = await make_template(client, m, per_member_limit=5)
    ids = [(await claim(client, m, buyer, template["id"])).json()["id"] for _ in range(4)]
    await expire(rt, m, ids[1])
    async with rt.db.tenant_session(m.id) as session:
        for coupon_id, status in ((ids[2], "locked"), (ids[3], "used")):
            row = await session.get(MemberCoupon, (m.id, coupon_id))
            assert row is not None
            row.status = status
    other = await make_member(rt, m, "other")
    await claim(client, m, other, template["id"])

    url = f"{m.store}/me/coupons"
    everything = (await client.get(url, headers=buyer.auth)).json()
    assert [c["id"] for c in everything["items"]] == ids[::-1]  # newest first, mine only
    assert [c["status"] for c in everything["items"]] == ["used", "locked", "expired", "available"]
    for status, expected in (
        ("available", [ids[0]]),
        ("expired", [ids[1]]),
        ("locked", [ids[2]]),
        ("used", [ids[3]]),
    ):
        page = (await client.get(url, params={"status": status}, headers=buyer.auth)).json()
        assert [c["id"] for c in page["items"]] == expected, status
    assert (await client.get(url, params={"status": "gone"}, headers=buyer.auth)).status_code == 400

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url, params=params, headers=buyer.auth)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert (await coupon_row(rt, m, ids[0])).status == "available"


async def test_twenty_members_race_for_five_coupons(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await new_shop(client, rt)
    m = shop.merchant
    template = await make_template(client, m, total_stock=5)
    members = [await make_member(rt, m, f"m{i}") for i in range(20)]
    responses = await asyncio.gather(*(claim(client, m, x, template["id"]) for x in members))
    assert Counter(r.status_code for r in responses) == {201: 5, 409: 15}, [
        r.text for r in responses
    ]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"coupon.sold_out"}
    assert (await template_row(rt, m, template["id"])).issued_count == 5
    rows = await coupons_of(rt, m, template["id"])
    assert len(rows) == 5 and len({row.member_id for row in rows}) == 5


async def test_one_member_racing_gets_the_limit(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await new_shop(client, rt)
    m, buyer = shop.merchant, shop.buyer
    template = await make_template(client, m, per_member_limit=2)
    responses = await asyncio.gather(*(claim(client, m, buyer, template["id"]) for _ in range(10)))
    assert Counter(r.status_code for r in responses) == {201: 2, 409: 8}, [
        r.text for r in responses
    ]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"coupon.limit_reached"}
    assert (await template_row(rt, m, template["id"])).issued_count == 2
    assert len(await coupons_of(rt, m, template["id"])) == 2
