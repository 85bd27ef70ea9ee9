"""The member's side and hostile input: daily check-in with its streak, exchanging points
for a coupon, refused options at checkout, the plugin switched off, and tenant walls."""

from __future__ import annotations

import secrets
from datetime import timedelta

import httpx

from core.idempotency import HEADER
from core.runtime import Runtime
from plugins.points.models import PointsAccount
from plugins.points.service import today
from storeplug.testing import Shopper, make_member, onboard, problem
from tests.commerce.coupons_support import make_template
from tests.commerce.orders_support import make_address, make_sku, place
from tests.points.support import adjust, points_of, points_store


async def test_checkin_once_a_day_with_a_streak_bonus(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await points_store(client, checkin_points=5, streak_days=3, streak_bonus=20)
    member = await make_member(rt, merchant)
    url = f"{merchant.store}/points/checkin"
    first = await client.post(url, headers=member.auth)
    assert first.status_code == 200, first.text
    assert first.json() == {"points": 5, "streak": 1, "balance": 5}
    problem(await client.post(url, headers=member.auth), 409, "points.already_checked_in")
    # Two days in a row already: today is the third, with the streak bonus.
    async with rt.db.tenant_session(merchant.id) as session:
        account = await session.get(PointsAccount, (merchant.id, member.id))
        assert account is not None
        account.last_checkin = today().date() - timedelta(days=1)
        account.streak = 2
    third = await client.post(url, headers=member.auth)
    assert third.json() == {"points": 25, "streak": 3, "balance": 30}
    overview = await points_of(client, merchant, member)
    assert (overview["streak"], overview["checked_in_today"]) == (3, True)


async def test_exchange_points_for_a_coupon(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await points_store(client)
    member = await make_member(rt, merchant)
    template = await make_template(client, merchant)
    item = await client.post(
        f"{merchant.merchant}/points/catalog",
        json={"template_id": template["id"], "title": "5元券", "cost": 300},
        headers=merchant.auth,
    )
    assert item.status_code == 201, item.text
    catalog = await client.get(f"{merchant.store}/points/catalog", headers=member.auth)
    assert [i["id"] for i in catalog.json()] == [item.json()["id"]]

    async def exchange(key: str) -> httpx.Response:
        return await client.post(
            f"{merchant.store}/points/exchange",
            json={"item_id": item.json()["id"]},
            headers={**member.auth, HEADER: key},
        )

    problem(await exchange(secrets.token_hex(8)), 409, "points.insufficient")
    assert (await adjust(client, merchant, member.id, 500)).status_code == 201
    key = secrets.token_hex(8)
    done = await exchange(key)
    assert done.status_code == 201, done.text
    again = await exchange(key)
    assert again.json() == done.json()  # replayed, not paid twice
    assert done.json()["balance"] == 200
    assert (await points_of(client, merchant, member))["balance"] == 200
    mine = await client.get(f"{merchant.store}/me/coupons", headers=member.auth)
    assert done.json()["coupon_id"] in mine.text

    retired = await client.delete(
        f"{merchant.merchant}/points/catalog/{item.json()['id']}", headers=merchant.auth
    )
    assert retired.status_code == 204, retired.text
    problem(await exchange(secrets.token_hex(8)), 404, "points.item_not_found")
    assert (await points_of(client, merchant, member))["balance"] == 200


async def test_checkout_refuses_bad_points_options(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await points_store(client, min_points=100)
    member = await make_member(rt, merchant)
    assert (await adjust(client, merchant, member.id, 150)).status_code == 201
    sku = await make_sku(rt, merchant, price=1000)
    address = await make_address(rt, merchant, member.id)

    def order(use_points: object) -> dict[str, object]:
        return {
            "items": [{"sku_id": sku.id, "quantity": 1}],
            "fulfillment": "express",
            "fulfillment_data": {"address_id": address},
            "options": {"use_points": use_points},
        }

    for bad in (-5, 0, 1.5, "100", [100]):
        problem(await place(client, merchant, member, order(bad)), 422, "points.invalid")
    problem(await place(client, merchant, member, order(151)), 409, "points.insufficient")
    problem(await place(client, merchant, member, order(99)), 422, "points.below_minimum")
    # The share cap (50% of 1000 fen = 500 points) is fine; 150 points are 150 fen.
    placed = await place(client, merchant, member, order(True))
    assert placed.status_code == 201, placed.text
    assert placed.json()["payable"] == 850
    assert (await points_of(client, merchant, member))["balance"] == 0


async def test_tenant_walls_and_the_plugin_switch(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await points_store(client)
    other = await points_store(client)
    stranger = await make_member(rt, other)
    problem(await adjust(client, merchant, stranger.id, 10), 404, "member.not_found")
    got = await client.get(
        f"{merchant.merchant}/points/members/{stranger.id}", headers=merchant.auth
    )
    problem(got, 404, "member.not_found")
    ledger = await client.get(
        f"{merchant.merchant}/points/members/{stranger.id}/ledger", headers=merchant.auth
    )
    problem(ledger, 404, "member.not_found")
    # The other tenant's token does not open this store.
    foreign = Shopper(id=stranger.id, token=stranger.token)
    assert (await client.get(f"{merchant.store}/points", headers=foreign.auth)).status_code == 401
    # A store without the plugin answers 404 plugin.disabled.
    plain = await onboard(client)
    member = await make_member(rt, plain)
    problem(await client.get(f"{plain.store}/points", headers=member.auth), 404, "plugin.disabled")
