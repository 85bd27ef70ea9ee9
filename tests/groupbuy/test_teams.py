"""A team's whole life over HTTP: success with WeChat Pay, failure at expiry refunded through
the fake WeChat Pay refund API, virtual completion, the race for the last place, and a
member who leaves by a refund before the team succeeded."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from core.context import TenantInfo
from core.payments.models import Payment
from core.runtime import Runtime
from plugins.groupbuy import jobs
from storeplug.testing import eventually, problem
from storeplug.testing.fakes.wechatpay import FakeWeChatPay
from tests.commerce.orders_support import order_row, stock_of
from tests.commerce.refunds_support import refund_directly, refunds_of, settled
from tests.groupbuy.support import (
    GROUP_PRICE,
    PRICE,
    age_team,
    group_store,
    join_team,
    open_team,
    opened_team,
    pay_sandbox,
    pay_wechat,
    placed,
    places,
    team_row,
)

SHIP = {"carrier": "顺丰", "tracking_no": "SF1234567890"}


async def ship(
    client: httpx.AsyncClient, merchant_url: str, auth: dict[str, str], order_id: str
) -> httpx.Response:
    return await client.post(f"{merchant_url}/orders/{order_id}/ship", json=SHIP, headers=auth)


async def test_a_three_person_team_succeeds_with_wechat_pay(
    client: httpx.AsyncClient, rt: Runtime, worker: None, fake_wechatpay: FakeWeChatPay
) -> None:
    store = await group_store(client, rt, members=3, wechatpay=fake_wechatpay)
    leader, second, third = store.buyers
    merchant = store.merchant

    opened = await placed(await open_team(client, store, leader))
    row = await order_row(rt, merchant, opened["order_id"])
    assert (row.items_total, row.discount_total) == (PRICE, PRICE - GROUP_PRICE)
    assert row.fulfillment_hold == "groupbuy"
    team_id = opened["team_id"]
    assert (await team_row(rt, merchant, team_id)).status == "opening"
    # Nobody can join before the leader paid.
    early = await join_team(client, store, second, team_id)
    problem(early, 404, "groupbuy.team_not_found")

    await pay_wechat(client, store, leader, opened["order_id"], fake_wechatpay)
    team = await team_row(rt, merchant, team_id)
    assert (team.status, team.paid, team.seats) == ("forming", 1, 1)
    assert team.expires_at is not None
    # Paid, but the team has not succeeded: the order may not be shipped yet.
    held = await ship(client, merchant.merchant, merchant.auth, opened["order_id"])
    problem(held, 409, "order.fulfillment_held")

    orders = [opened["order_id"]]
    for buyer in (second, third):
        joined = await placed(await join_team(client, store, buyer, team_id))
        assert joined["team_id"] == team_id
        orders.append(joined["order_id"])
    assert (await team_row(rt, merchant, team_id)).seats == 3
    await pay_wechat(client, store, second, orders[1], fake_wechatpay)
    assert (await team_row(rt, merchant, team_id)).status == "forming"
    await pay_wechat(client, store, third, orders[2], fake_wechatpay)

    team = await team_row(rt, merchant, team_id)
    assert (team.status, team.paid, team.placeholders) == ("succeeded", 3, 0)
    for order_id in orders:
        row = await order_row(rt, merchant, order_id)
        assert (row.status, row.fulfillment_hold) == ("paid", "")
        assert row.paid_amount == row.payable
        shipped = await ship(client, merchant.merchant, merchant.auth, order_id)
        assert shipped.status_code == 200, shipped.text
    assert set((await places(rt, merchant, team_id)).values()) == {"paid"}
    assert await stock_of(rt, merchant, store.sku.id) == 20 - 3


async def test_an_expired_team_fails_and_both_members_are_refunded_through_wechat_pay(
    client: httpx.AsyncClient, rt: Runtime, fake_wechatpay: FakeWeChatPay, worker: None
) -> None:
    fake = fake_wechatpay
    store = await group_store(client, rt, members=2, wechatpay=fake)
    leader, second = store.buyers
    merchant = store.merchant
    opened = await placed(await open_team(client, store, leader))
    await pay_wechat(client, store, leader, opened["order_id"], fake)
    team_id = opened["team_id"]
    joined = await placed(await join_team(client, store, second, team_id))
    await pay_wechat(client, store, second, joined["order_id"], fake)
    assert await stock_of(rt, merchant, store.sku.id) == 18

    await age_team(rt, merchant, team_id)
    # (The server's own minute sweep may get there first: either way it expires once.)
    await jobs.sweep_tenant(rt, await _tenant(rt, merchant.slug))
    team = await team_row(rt, merchant, team_id)
    assert (team.status, team.close_reason) == ("failed", "expired")

    for order_id in (opened["order_id"], joined["order_id"]):

        async def sent(order_id: str = order_id) -> bool:
            found = await refunds_of(rt, merchant, order_id)
            return len(found) == 1 and found[0].id in fake.refunds

        await eventually(sent, what=f"the refund of {order_id} at WeChat Pay")
        (refund,) = await refunds_of(rt, merchant, order_id)
        assert refund.amount == (await order_row(rt, merchant, order_id)).paid_amount
        done = await fake.complete_refund(refund.id)
        assert done is not None and done.status_code == 204, done and done.text
        await settled(client, rt, merchant, refund.id, "succeeded")
        assert (await order_row(rt, merchant, order_id)).status == "refunded"
    assert set((await places(rt, merchant, team_id)).values()) == {"failed"}
    assert await stock_of(rt, merchant, store.sku.id) == 20
    # The sweep again: nothing is refunded twice.
    await jobs.sweep_tenant(rt, await _tenant(rt, merchant.slug))
    assert len(await refunds_of(rt, merchant, opened["order_id"])) == 1


async def test_virtual_completion_at_60_percent_succeeds_with_one_placeholder(
    client: httpx.AsyncClient, rt: Runtime, fake_wechatpay: FakeWeChatPay, worker: None
) -> None:
    store = await group_store(client, rt, members=3, virtual_percent=60, wechatpay=fake_wechatpay)
    leader, second, late = store.buyers
    merchant = store.merchant
    opened = await placed(await open_team(client, store, leader))
    team_id, leader_order = opened["team_id"], opened["order_id"]
    await pay_wechat(client, store, leader, leader_order, fake_wechatpay)
    joined = await placed(await join_team(client, store, second, team_id))
    await pay_wechat(client, store, second, joined["order_id"], fake_wechatpay)
    # A third place is held but never paid before the time runs out.
    unpaid = await placed(await join_team(client, store, late, team_id))

    await age_team(rt, merchant, team_id)
    await jobs.expire_team(rt, merchant.id, team_id)  # unless the minute sweep came first
    team = await team_row(rt, merchant, team_id)
    assert (team.status, team.paid, team.placeholders) == ("succeeded", 2, 1)
    for order_id in (leader_order, joined["order_id"]):
        assert (await order_row(rt, merchant, order_id)).fulfillment_hold == ""

    async def unpaid_cancelled() -> bool:
        return (await order_row(rt, merchant, unpaid["order_id"])).status == "cancelled"

    await eventually(unpaid_cancelled, what="the unpaid place to be cancelled")
    assert (await places(rt, merchant, team_id))[unpaid["order_id"]] == "released"
    assert await stock_of(rt, merchant, store.sku.id) == 20 - 2
    shown = await client.get(f"{merchant.store}/groupbuy/teams/{team_id}")
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["placeholders"] == 1 and len(body["members"]) == 2
    assert body["status"] == "succeeded" and body["slots_left"] == 0


async def test_without_enough_paid_virtual_completion_fails_the_team(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    store = await group_store(client, rt, members=1, virtual_percent=60)
    team_id, leader_order = await opened_team(client, store, store.buyers[0])
    await age_team(rt, store.merchant, team_id)
    await jobs.expire_team(rt, store.merchant.id, team_id)  # unless the minute sweep came first
    assert (await team_row(rt, store.merchant, team_id)).status == "failed"

    async def refunded() -> bool:
        return len(await refunds_of(rt, store.merchant, leader_order)) == 1

    await eventually(refunded, what="the leader's refund")
    (refund,) = await refunds_of(rt, store.merchant, leader_order)
    await settled(client, rt, store.merchant, refund.id, "succeeded")


async def test_ten_members_race_for_the_last_place(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    store = await group_store(client, rt, members=12, team_size=3)
    leader, second, *racers = store.buyers
    merchant = store.merchant
    team_id, _ = await opened_team(client, store, leader)
    joined = await placed(await join_team(client, store, second, team_id))
    await pay_sandbox(client, store, second, joined["order_id"])

    answers = await asyncio.gather(*(join_team(client, store, b, team_id) for b in racers))
    winners = [a for a in answers if a.status_code == 201]
    assert len(winners) == 1, [a.text for a in answers]
    for loser in answers:
        if loser.status_code != 201:
            problem(loser, 409, "groupbuy.team_full")
    team = await team_row(rt, merchant, team_id)
    assert (team.seats, team.paid) == (3, 2)

    winner = racers[next(i for i, a in enumerate(answers) if a.status_code == 201)]
    await pay_sandbox(client, store, winner, winners[0].json()["order_id"])
    team = await team_row(rt, merchant, team_id)
    assert (team.status, team.paid) == ("succeeded", 3)
    # Nobody without a place was charged: three payments, one per place.
    async with rt.db.tenant_session(merchant.id) as session:
        charged = await session.scalar(
            select(func.count()).select_from(Payment).where(Payment.status == "succeeded")
        )
    assert charged == 3
    assert await stock_of(rt, merchant, store.sku.id) == 20 - 3


async def test_a_member_refunded_before_success_leaves_and_the_place_opens_again(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    store = await group_store(client, rt, members=4)
    leader, quitter, third, fourth = store.buyers
    merchant = store.merchant
    team_id, _ = await opened_team(client, store, leader)
    joined = await placed(await join_team(client, store, quitter, team_id))
    await pay_sandbox(client, store, quitter, joined["order_id"])
    third_order = await placed(await join_team(client, store, third, team_id))
    # Full: three places held or paid.
    problem(await join_team(client, store, fourth, team_id), 409, "groupbuy.team_full")

    refund = await refund_directly(client, merchant, joined["order_id"], {"reason": "不想要了"})
    assert refund.status_code == 201, refund.text
    await settled(client, rt, merchant, refund.json()["id"], "succeeded")
    team = await team_row(rt, merchant, team_id)
    assert (team.status, team.paid, team.seats) == ("forming", 1, 2)
    assert (await places(rt, merchant, team_id))[joined["order_id"]] == "left"

    # The place is free again: the fourth member takes it and the team completes.
    fourth_order = await placed(await join_team(client, store, fourth, team_id))
    await pay_sandbox(client, store, third, third_order["order_id"])
    await pay_sandbox(client, store, fourth, fourth_order["order_id"])
    team = await team_row(rt, merchant, team_id)
    assert (team.status, team.paid) == ("succeeded", 3)
    shown = (await client.get(f"{merchant.store}/groupbuy/teams/{team_id}")).json()
    assert len(shown["members"]) == 3
    assert "b1" not in [m["nickname"] for m in shown["members"]]  # the quitter is not shown


async def _tenant(rt: Runtime, slug: str) -> TenantInfo:
    tenant = await rt.tenants.resolve(slug)
    assert tenant is not None
    return tenant
