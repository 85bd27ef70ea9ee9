"""The ledger's rules: lots expire through the job (with an "expiring soon" notice in the
outbox first), redemption takes the lots that expire first, 20 concurrent redemptions of one
balance never take more than was there, and manual adjustments keep who and why."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from core.db import utcnow
from core.jobs import InProcessQueue
from core.runtime import Runtime
from plugins.points.jobs import EXPIRE_JOB
from plugins.points.models import PointsEntry, PointsLot
from storeplug.testing import eventually, make_member, problem
from tests.commerce.orders_support import make_address, make_sku, place
from tests.notifications.support import notices
from tests.points.support import add_lot, adjust, history, lots_of, points_of, points_store


async def test_the_job_expires_due_lots_and_announces_the_next(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    merchant = await points_store(client, notice_days=7)
    member = await make_member(rt, merchant)
    now = utcnow()
    due = await add_lot(
        rt, merchant, member.id, 30, now - timedelta(days=400), now - timedelta(seconds=1)
    )
    soon = await add_lot(
        rt, merchant, member.id, 20, now - timedelta(days=300), now + timedelta(days=3)
    )
    await add_lot(rt, merchant, member.id, 10, now - timedelta(days=1), now + timedelta(days=300))
    # A lot past its expiry no longer counts, even before the job has run.
    assert (await points_of(client, merchant, member))["balance"] == 30

    await rt.jobs.enqueue(EXPIRE_JOB, tenant_id=merchant.id)
    if isinstance(rt.jobs, InProcessQueue):
        await rt.jobs.drain(15)

    async def expired() -> bool:
        lots = {lot.id: lot for lot in await lots_of(rt, merchant, member.id)}
        return lots[due].remaining == 0 and lots[soon].noticed_at is not None

    await eventually(expired, what="the due lot to expire")
    entries = await history(client, merchant, member)
    assert [(e["kind"], e["points"], e["balance_after"]) for e in entries] == [("expire", -30, 30)]
    overview = await points_of(client, merchant, member)
    assert (overview["balance"], overview["expiring_soon"]) == (30, 20)
    expiring = await client.get(f"{merchant.store}/points/expiring", headers=member.auth)
    assert [lot["id"] for lot in expiring.json()] == [soon]
    [notice] = await notices(rt, merchant, event="points.expiring")
    assert (notice.member_id, notice.ref) == (member.id, soon)
    assert (notice.values["points"], notice.values["balance"]) == ("20", "30")
    assert notice.values["expires_at"].endswith("日")

    # A second run finds nothing more to expire.
    await rt.jobs.enqueue(EXPIRE_JOB, tenant_id=merchant.id)
    if isinstance(rt.jobs, InProcessQueue):
        await rt.jobs.drain(15)
    await asyncio.sleep(0.5)
    assert len(await history(client, merchant, member)) == 1
    assert len(await notices(rt, merchant, event="points.expiring")) == 1


async def test_redemption_takes_the_oldest_lots_first(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await points_store(client, min_points=1, max_share_percent=100)
    member = await make_member(rt, merchant)
    now = utcnow()
    newest = await add_lot(rt, merchant, member.id, 100, now, now + timedelta(days=365))
    oldest = await add_lot(
        rt, merchant, member.id, 100, now - timedelta(days=200), now + timedelta(days=165)
    )
    middle = await add_lot(
        rt, merchant, member.id, 100, now - timedelta(days=100), now + timedelta(days=265)
    )
    sku = await make_sku(rt, merchant, price=150000)
    address = await make_address(rt, merchant, member.id)
    body = {
        "items": [{"sku_id": sku.id, "quantity": 1}],
        "fulfillment": "express",
        "fulfillment_data": {"address_id": address},
        "options": {"use_points": 150},
    }
    placed = await place(client, merchant, member, body)
    assert placed.status_code == 201, placed.text
    left = {lot.id: lot.remaining for lot in await lots_of(rt, merchant, member.id)}
    assert left == {oldest: 0, middle: 50, newest: 100}


async def test_twenty_concurrent_redemptions_never_overdraw(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await points_store(client, min_points=1, max_share_percent=100)
    member = await make_member(rt, merchant)
    assert (await adjust(client, merchant, member.id, 1000)).status_code == 201
    sku = await make_sku(rt, merchant, price=1000, stock=100)
    address = await make_address(rt, merchant, member.id)
    body = {
        "items": [{"sku_id": sku.id, "quantity": 1}],
        "fulfillment": "express",
        "fulfillment_data": {"address_id": address},
        "options": {"use_points": 300},
    }
    answers = await asyncio.gather(*(place(client, merchant, member, body) for _ in range(20)))
    won = [a for a in answers if a.status_code == 201]
    for answer in answers:
        if answer.status_code != 201:
            problem(answer, 409, "points.insufficient")
    assert len(won) == 3, [a.text for a in answers]
    assert all(a.json()["payable"] == 700 for a in won)
    assert (await points_of(client, merchant, member))["balance"] == 100
    async with rt.db.tenant_session(merchant.id) as session:
        redeemed = await session.scalar(
            select(func.sum(PointsEntry.points)).where(PointsEntry.kind == "redeem")
        )
        lowest = await session.scalar(select(func.min(PointsLot.remaining)))
    assert redeemed == -900
    assert lowest is not None and lowest >= 0


async def test_adjustments_need_a_reason_and_never_go_negative(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await points_store(client)
    member = await make_member(rt, merchant)
    assert (
        await adjust(client, merchant, member.id, 40, "apology for a late parcel")
    ).status_code == 201
    problem(await adjust(client, merchant, member.id, -41), 409, "points.insufficient")
    problem(await adjust(client, merchant, member.id, 0), 422, "points.zero_adjustment")
    problem(await adjust(client, merchant, member.id, 5, "   "), 422, "points.reason_required")
    missing = await client.post(
        f"{merchant.merchant}/points/members/{member.id}/adjustments",
        json={"points": 5},
        headers=merchant.auth,
    )
    assert missing.status_code == 400, missing.text
    taken = await adjust(client, merchant, member.id, -15, "typo fixed")
    assert taken.status_code == 201, taken.text
    assert taken.json()["actor"].startswith("staff:")
    ledger = await client.get(
        f"{merchant.merchant}/points/members/{member.id}/ledger", headers=merchant.auth
    )
    assert [(e["points"], e["reason"]) for e in ledger.json()["items"]] == [
        (-15, "typo fixed"),
        (40, "apology for a late parcel"),
    ]
    assert (await points_of(client, merchant, member))["balance"] == 25
