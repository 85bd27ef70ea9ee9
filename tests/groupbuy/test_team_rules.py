"""The rules of teams, each refused with its own code: one open team per member and activity,
no joining one's own, a full, a failed or an expired team, nothing after the activity
ended, the limits, group prices only through the team routes, and places given back by
unpaid orders. Also: a payment that arrives for a team that closed meanwhile is refunded,
and a manual close refunds the team."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from core.db import utcnow
from core.payments.models import Payment
from core.runtime import Runtime
from plugins.groupbuy import jobs, teams
from plugins.groupbuy.models import GroupActivity, GroupMember, GroupTeam
from storeplug.testing import eventually, problem
from tests.commerce.orders_support import order_row, stock_of
from tests.commerce.payments_support import pay
from tests.commerce.refunds_support import refunds_of, settled
from tests.groupbuy.support import (
    age_team,
    group_store,
    join_team,
    open_team,
    opened_team,
    pay_sandbox,
    placed,
    places,
    team_row,
)
from tests.notifications.support import notices


async def test_one_open_team_per_member_and_no_joining_ones_own(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    store = await group_store(client, rt, members=2)
    leader, other = store.buyers
    team_id, _ = await opened_team(client, store, leader)
    problem(await open_team(client, store, leader), 409, "groupbuy.already_in_team")
    problem(await join_team(client, store, leader, team_id), 409, "groupbuy.own_team")
    # A member holding an unpaid place cannot open a team of their own either.
    await placed(await join_team(client, store, other, team_id))
    problem(await open_team(client, store, other), 409, "groupbuy.already_in_team")


async def test_failed_expired_and_ended_refusals(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    store = await group_store(client, rt, members=4)
    leader, other_leader, joiner, late = store.buyers
    merchant = store.merchant
    expired, _ = await opened_team(client, store, leader)
    await age_team(rt, merchant, expired)
    problem(await join_team(client, store, joiner, expired), 409, "groupbuy.team_expired")

    team_id, _ = await opened_team(client, store, other_leader)
    closed = await client.post(
        f"{merchant.merchant}/groupbuy/teams/{team_id}/close",
        json={"reason": "库存不足"},
        headers=merchant.auth,
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "failed"
    problem(await join_team(client, store, joiner, team_id), 409, "groupbuy.team_closed")
    problem(
        await client.post(
            f"{merchant.merchant}/groupbuy/teams/{team_id}/close", json={}, headers=merchant.auth
        ),
        409,
        "groupbuy.team_closed",
    )

    # The activity ends: no new team and no joining, but a forming team stays as it is.
    other_team, _ = await opened_team(client, store, joiner)
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(
            update(GroupActivity)
            .where(GroupActivity.id == store.activity["id"])
            .values(ends_at=utcnow() - timedelta(seconds=1))
        )
    problem(await open_team(client, store, late), 409, "groupbuy.activity_ended")
    problem(await join_team(client, store, late, other_team), 409, "groupbuy.activity_ended")
    assert (await team_row(rt, merchant, other_team)).status == "forming"
    problem(await join_team(client, store, late, "0" * 26), 404, "groupbuy.team_not_found")


async def test_limits_and_where_group_prices_may_be_bought(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    store = await group_store(client, rt, members=2, team_size=2, member_limit=2, allow_solo=False)
    leader, other = store.buyers
    merchant = store.merchant
    problem(await open_team(client, store, leader, quantity=3), 409, "groupbuy.limit_exceeded")
    # The group price only through the team routes.
    item: dict[str, Any] = {
        "sku_id": store.sku.id,
        "quantity": 1,
        "activity": f"groupbuy:{store.activity['id']}",
    }
    body: dict[str, Any] = {
        "items": [item],
        "fulfillment": "express",
        "fulfillment_data": {"address_id": leader.address_id},
    }
    plain = await client.post(
        f"{merchant.store}/orders",
        json=body,
        headers={**leader.auth, "Idempotency-Key": secrets.token_hex(8)},
    )
    problem(plain, 422, "groupbuy.buy_required")
    # Not sold alone while the activity runs (allow_solo false).
    item.pop("activity")
    alone = await client.post(
        f"{merchant.store}/orders",
        json=body,
        headers={**leader.auth, "Idempotency-Key": secrets.token_hex(8)},
    )
    problem(alone, 422, "groupbuy.group_only")

    # Two units in a team that fails do not count against the member's limit of two.
    team_id, order_id = await opened_team(client, store, leader, quantity=2)
    closed = await client.post(
        f"{merchant.merchant}/groupbuy/teams/{team_id}/close", json={}, headers=merchant.auth
    )
    assert closed.status_code == 200, closed.text

    async def failed() -> bool:
        return (await places(rt, merchant, team_id))[order_id] == "failed"

    await eventually(failed, what="the closed team's place to be settled")
    # Two units in a team that succeeds do count.
    again, _ = await opened_team(client, store, leader, quantity=2)
    problem(await join_team(client, store, leader, again), 409, "groupbuy.own_team")
    joined = await placed(await join_team(client, store, other, again))
    await pay_sandbox(client, store, other, joined["order_id"])
    assert (await team_row(rt, merchant, again)).status == "succeeded"
    problem(await open_team(client, store, leader), 409, "groupbuy.limit_exceeded")


async def test_an_unpaid_place_is_given_back_when_its_order_is_cancelled(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    store = await group_store(client, rt, members=3, team_size=2)
    leader, first, second = store.buyers
    merchant = store.merchant
    team_id, _ = await opened_team(client, store, leader)
    held = await placed(await join_team(client, store, first, team_id))
    problem(await join_team(client, store, second, team_id), 409, "groupbuy.team_full")
    assert await stock_of(rt, merchant, store.sku.id) == 18

    cancelled = await client.post(
        f"{merchant.store}/orders/{held['order_id']}/cancel", json={}, headers=first.auth
    )
    assert cancelled.status_code == 200, cancelled.text
    assert (await team_row(rt, merchant, team_id)).seats == 1
    assert (await places(rt, merchant, team_id))[held["order_id"]] == "released"
    assert await stock_of(rt, merchant, store.sku.id) == 19
    taken = await placed(await join_team(client, store, second, team_id))
    await pay_sandbox(client, store, second, taken["order_id"])
    assert (await team_row(rt, merchant, team_id)).status == "succeeded"


async def test_a_leader_who_never_pays_leaves_no_team(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    store = await group_store(client, rt, members=1)
    (leader,) = store.buyers
    opened = await placed(await open_team(client, store, leader))
    cancelled = await client.post(
        f"{store.merchant.store}/orders/{opened['order_id']}/cancel", json={}, headers=leader.auth
    )
    assert cancelled.status_code == 200, cancelled.text
    team = await team_row(rt, store.merchant, opened["team_id"])
    assert (team.status, team.seats) == ("cancelled", 0)
    # The member may open another team at once.
    await placed(await open_team(client, store, leader))


async def test_a_payment_for_a_team_that_closed_meanwhile_is_refunded(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    store = await group_store(client, rt, members=2)
    leader, joiner = store.buyers
    merchant = store.merchant
    team_id, _ = await opened_team(client, store, leader)
    held = await placed(await join_team(client, store, joiner, team_id))
    # The team fails while the joiner's payment is on its way (before its order is settled).
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(
            update(GroupTeam).where(GroupTeam.id == team_id).values(status="failed")
        )
    await pay_sandbox(client, store, joiner, held["order_id"])
    assert (await places(rt, merchant, team_id))[held["order_id"]] == "failed"
    (refund,) = await refunds_of(rt, merchant, held["order_id"])
    await settled(client, rt, merchant, refund.id, "succeeded")
    assert (await order_row(rt, merchant, held["order_id"])).status == "refunded"


async def test_switching_the_plugin_off_fails_and_refunds_the_open_teams(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    store = await group_store(client, rt, members=3)
    leader, joiner, unpaid = store.buyers
    merchant = store.merchant
    team_id, leader_order = await opened_team(client, store, leader)
    joined = await placed(await join_team(client, store, joiner, team_id))
    await pay_sandbox(client, store, joiner, joined["order_id"])
    held = await placed(await join_team(client, store, unpaid, team_id))

    off = await client.post(f"{merchant.merchant}/plugins/groupbuy/disable", headers=merchant.auth)
    assert off.status_code == 200, off.text
    assert (await team_row(rt, merchant, team_id)).status == "failed"

    async def settled_places() -> bool:
        return await places(rt, merchant, team_id) == {
            leader_order: "failed",
            joined["order_id"]: "failed",
            held["order_id"]: "released",
        }

    await eventually(settled_places, what="the open team's orders to be settled")
    for order_id in (leader_order, joined["order_id"]):
        (refund,) = await refunds_of(rt, merchant, order_id)
        await settled(client, rt, merchant, refund.id, "succeeded")
    assert (await order_row(rt, merchant, held["order_id"])).status == "cancelled"
    assert await stock_of(rt, merchant, store.sku.id) == 20


async def test_a_payment_racing_a_close_is_never_kept_without_a_place(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    store = await group_store(client, rt, members=2)
    leader, joiner = store.buyers
    merchant = store.merchant
    team_id, _ = await opened_team(client, store, leader)
    held = await placed(await join_team(client, store, joiner, team_id))
    order_id = held["order_id"]

    paid, closed = await asyncio.gather(
        pay(client, merchant, joiner, order_id),
        client.post(
            f"{merchant.merchant}/groupbuy/teams/{team_id}/close", json={}, headers=merchant.auth
        ),
    )
    assert closed.status_code == 200, closed.text
    assert paid.status_code in (201, 409), paid.text

    async def settled_place() -> bool:
        return (await places(rt, merchant, team_id))[order_id] in ("failed", "released")

    await eventually(settled_place, what="the joiner's place to be settled")
    # Whatever won, money taken for this order is all given back.
    async with rt.db.tenant_session(merchant.id) as session:
        taken = await session.scalar(
            select(func.coalesce(func.sum(Payment.paid_amount), 0)).where(
                Payment.order_id == order_id, Payment.status == "succeeded"
            )
        )
    for refund in await refunds_of(rt, merchant, order_id):
        await settled(client, rt, merchant, refund.id, "succeeded")
    refunded = sum(r.amount for r in await refunds_of(rt, merchant, order_id))
    assert refunded == taken


async def test_each_member_gets_one_success_or_failure_notice(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    store = await group_store(client, rt, members=3, team_size=2)
    leader, joiner, alone = store.buyers
    merchant = store.merchant
    won, _ = await opened_team(client, store, leader)
    joined = await placed(await join_team(client, store, joiner, won))
    await pay_sandbox(client, store, joiner, joined["order_id"])
    lost, lost_order = await opened_team(client, store, alone)
    closed = await client.post(
        f"{merchant.merchant}/groupbuy/teams/{lost}/close", json={}, headers=merchant.auth
    )
    assert closed.status_code == 200, closed.text

    async def told() -> dict[str, list[str]]:
        seen: dict[str, list[str]] = {}
        for row in await notices(rt, merchant):
            if row.event.startswith("groupbuy."):
                seen.setdefault(row.event, []).append(row.member_id)
        assert len(seen.get("groupbuy.failed", [])) == 1, seen
        return seen

    seen = await eventually(told, what="the success and failure notices")
    assert sorted(seen["groupbuy.succeeded"]) == sorted([leader.id, joiner.id])
    assert seen["groupbuy.failed"] == [alone.id]
    [failed] = await notices(rt, merchant, event="groupbuy.failed")
    assert (failed.ref, failed.values["team_id"]) == (lost_order, lost)
    assert failed.values["reason"] == "拼团未成功，已退款"
    # Settling again (a retried job, the sweep) tells nobody twice.
    tenant = await rt.tenants.resolve(merchant.slug)
    await teams.settle_team(rt, tenant, lost)
    assert len(await notices(rt, merchant, event="groupbuy.failed")) == 1


async def test_an_order_that_cannot_be_settled_does_not_stop_the_others(
    client: httpx.AsyncClient, rt: Runtime, worker: None, caplog: pytest.LogCaptureFixture
) -> None:
    store = await group_store(client, rt, members=3)
    leader, joiner, broken = store.buyers
    merchant = store.merchant
    team_id, leader_order = await opened_team(client, store, leader)
    held = await placed(await join_team(client, store, joiner, team_id))
    odd = await placed(await join_team(client, store, broken, team_id))
    # A place that says paid for an order that is not: its refund is refused.
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(
            update(GroupMember).where(GroupMember.order_id == odd["order_id"]).values(status="paid")
        )
        await session.execute(
            update(GroupTeam).where(GroupTeam.id == team_id).values(status="failed")
        )
    tenant = await rt.tenants.resolve(merchant.slug)
    assert tenant is not None
    assert await teams.settle_team(rt, tenant, team_id) == 2
    settled_now = await places(rt, merchant, team_id)
    assert settled_now[leader_order] == "failed"
    assert settled_now[held["order_id"]] == "released"
    assert settled_now[odd["order_id"]] == "paid"  # left for a person, and the sweep
    assert len(await refunds_of(rt, merchant, leader_order)) == 1
    assert any(
        f"order {odd['order_id']}" in r.getMessage() and "not settled" in r.getMessage()
        for r in caplog.records
    )


async def test_the_sweep_settles_a_team_whose_settle_job_was_lost(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    store = await group_store(client, rt, members=1)
    merchant = store.merchant
    team_id, leader_order = await opened_team(client, store, store.buyers[0])
    # Failed long ago, but nothing refunded: the job queued at the close never ran.
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(
            update(GroupTeam)
            .where(GroupTeam.id == team_id)
            .values(status="failed", closed_at=utcnow() - timedelta(minutes=5))
        )
    tenant = await rt.tenants.resolve(merchant.slug)
    assert tenant is not None
    # (The server's own minute sweep may get there first: either way it is settled once.)
    await jobs.sweep_tenant(rt, tenant)
    assert (await places(rt, merchant, team_id))[leader_order] == "failed"
    (refund,) = await refunds_of(rt, merchant, leader_order)
    await settled(client, rt, merchant, refund.id, "succeeded")
    assert await jobs.sweep_tenant(rt, tenant) == 0
