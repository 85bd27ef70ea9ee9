"""Targeted campaigns: a coupon to each member of a segment, a tag or a filter, exactly once
however the job is run (twice, two at once, killed halfway), with its results later."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.analytics.models import MemberRfm
from core.campaigns import jobs, service
from core.campaigns.models import CampaignRecipient
from core.coupons.models import MemberCoupon
from core.db import utcnow
from core.members.models import Member
from core.notifications.models import Notification
from core.runtime import Runtime
from storeplug.testing import Merchant, eventually, make_member, onboard, problem, staff_auth
from tests.analytics.support import insert_order
from tests.commerce.coupons_support import make_template
from tests.commerce.orders_support import make_address, make_sku, place
from tests.commerce.payments_support import pay, use_sandbox

SEGMENT = "important_value"


async def seed_segment(rt: Runtime, merchant: Merchant, segment: str, count: int) -> list[str]:
    """``count`` members scored into ``segment``, written set-wise."""
    now = utcnow()
    async with rt.db.tenant_session(merchant.id) as session:
        members = [
            Member(openid=f"o-{secrets.token_hex(8)}", nickname=f"m{i}") for i in range(count)
        ]
        session.add_all(members)
        await session.flush()
        session.add_all(
            MemberRfm(
                member_id=m.id,
                first_paid_at=now,
                last_paid_at=now,
                orders=1,
                monetary=100,
                r=5,
                f=5,
                m=5,
                segment=segment,
                computed_at=now,
            )
            for m in members
        )
        return [m.id for m in members]


@asynccontextmanager
async def reading(rt: Runtime, merchant: Merchant) -> AsyncIterator[AsyncSession]:
    """A read-only session: on SQLite it does not queue behind the job's write lock."""
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, merchant.id)
        yield session


async def coupons_of(rt: Runtime, merchant: Merchant, template_id: str) -> tuple[int, int]:
    """(coupons of the template, distinct members holding them)."""
    async with reading(rt, merchant) as session:
        total, members = (
            await session.execute(
                select(func.count(), func.count(func.distinct(MemberCoupon.member_id))).where(
                    MemberCoupon.template_id == template_id
                )
            )
        ).one()
    return int(total), int(members)


async def issued_rows(rt: Runtime, merchant: Merchant, campaign_id: str) -> int:
    async with reading(rt, merchant) as session:
        n = await session.scalar(
            select(func.count())
            .select_from(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.status == "issued",
            )
        )
    return int(n or 0)


async def create(
    client: httpx.AsyncClient,
    merchant: Merchant,
    template_id: str,
    audience: dict[str, Any],
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        f"{merchant.merchant}/campaigns/",
        json={"name": "回流礼", "template_id": template_id, "audience": audience, **extra},
        headers=merchant.auth,
    )


async def test_a_thousand_members_get_a_thousand_coupons_however_the_job_runs(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await onboard(client)
    await seed_segment(rt, merchant, SEGMENT, 1000)
    await seed_segment(rt, merchant, "general_retain", 30)  # not in the audience
    template = await make_template(client, merchant, claimable=False)
    made = await create(client, merchant, template["id"], {"kind": "segment", "segment": SEGMENT})
    assert made.status_code == 201, made.text
    assert (made.json()["status"], made.json()["audience_size"]) == ("draft", 1000)
    campaign_id = made.json()["id"]
    tenant = await rt.tenants.resolve(merchant.slug)
    # The launch without its job, so that this test drives the job itself.
    async with rt.tenant_context(tenant) as ctx:
        assert (await service.start(ctx, campaign_id)).targeted == 1000

    # A run that stops after two batches of 50, then one killed in the middle of a batch.
    assert await jobs.run(rt, tenant.id, campaign_id, max_batches=2, batch_size=50) == 100
    assert await coupons_of(rt, merchant, template["id"]) == (100, 100)
    killed = asyncio.create_task(jobs.run(rt, tenant.id, campaign_id, batch_size=50))

    async def some_more() -> bool:
        return await issued_rows(rt, merchant, campaign_id) >= 300

    await eventually(some_more, what="the run to go on")
    killed.cancel()
    await asyncio.gather(killed, return_exceptions=True)
    total, _ = await coupons_of(rt, merchant, template["id"])
    assert 300 <= total < 1000 and total % 50 == 0  # only whole batches committed
    assert total == await issued_rows(rt, merchant, campaign_id)

    # Two runs at once finish it; a third finds nothing to do.
    done = await asyncio.gather(*(jobs.run(rt, tenant.id, campaign_id) for _ in range(2)))
    assert sum(done) == 1000 - total
    assert await coupons_of(rt, merchant, template["id"]) == (1000, 1000)
    assert await jobs.run(rt, tenant.id, campaign_id) == 0
    body = (
        await client.get(f"{merchant.merchant}/campaigns/{campaign_id}", headers=merchant.auth)
    ).json()
    assert body["status"] == "done" and body["finished_at"] is not None
    results = body["results"]
    assert (results["targeted"], results["issued"], results["pending"], results["skipped"]) == (
        1000,
        1000,
        0,
        {},
    )
    template_row = await client.get(
        f"{merchant.merchant}/coupons/templates/{template['id']}", headers=merchant.auth
    )
    assert template_row.json()["issued_count"] == 1000
    async with rt.db.tenant_session(merchant.id) as session:
        sources = set((await session.scalars(select(MemberCoupon.source))).all())
    assert sources == {"campaign"}


@pytest.mark.usefixtures("worker")
async def test_a_tag_campaign_over_the_api_with_its_results(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await onboard(client)
    m, auth = merchant.merchant, merchant.auth
    buyers = [await make_member(rt, merchant, nickname=f"vip{i}") for i in range(3)]
    other = await make_member(rt, merchant, nickname="not tagged")
    for buyer in [*buyers, other]:
        tags = ["vip"] if buyer is not other else ["new"]
        assert (
            await client.put(f"{m}/members/{buyer.id}/tags", json={"tags": tags}, headers=auth)
        ).status_code == 200
    template = await make_template(client, merchant, claimable=False, amount=300, total_stock=2)
    # The first buyer holds one already (the per-member limit is 1).
    issued = await client.post(
        f"{m}/coupons/templates/{template['id']}/issue",
        json={"member_ids": [buyers[0].id]},
        headers=auth,
    )
    assert issued.json()["issued"] == 1
    made = await create(client, merchant, template["id"], {"kind": "tag", "tag": "vip"})
    assert made.status_code == 201, made.text
    campaign_id = made.json()["id"]
    launched = await client.post(f"{m}/campaigns/{campaign_id}/launch", headers=auth)
    assert launched.status_code == 202, launched.text
    assert (launched.json()["status"], launched.json()["audience_size"]) == ("running", 3)
    problem(
        await client.post(f"{m}/campaigns/{campaign_id}/launch", headers=auth),
        409,
        "campaign.already_launched",
    )

    async def done() -> dict[str, Any]:
        body: dict[str, Any] = (
            await client.get(f"{m}/campaigns/{campaign_id}", headers=auth)
        ).json()
        assert body["status"] == "done"
        return body

    body = await eventually(done, what="the campaign to finish")
    # One had the limit already; of the other two, one got the last coupon of the stock.
    assert body["results"]["issued"] == 1
    assert body["results"]["skipped"] == {"coupon.limit_reached": 1, "coupon.sold_out": 1}

    recipients = (await client.get(f"{m}/campaigns/{campaign_id}/recipients", headers=auth)).json()
    [winner] = [r for r in recipients["items"] if r["status"] == "issued"]
    assert winner["coupon_status"] == "available"
    buyer = next(b for b in buyers if b.id == winner["member_id"])

    # The coupon used on a paid order: the campaign's results count it.
    await use_sandbox(client, merchant)
    sku = await make_sku(rt, merchant, price=2000, stock=5)
    order = await place(
        client,
        merchant,
        buyer,
        {
            "items": [{"sku_id": sku.id, "quantity": 1}],
            "fulfillment": "express",
            "fulfillment_data": {"address_id": await make_address(rt, merchant, buyer.id)},
            "options": {"coupon_id": winner["coupon_id"]},
        },
    )
    assert order.status_code == 201, order.text
    paid = await pay(client, merchant, buyer, order.json()["id"])
    assert paid.status_code in (200, 201), paid.text
    results = (await client.get(f"{m}/campaigns/{campaign_id}", headers=auth)).json()["results"]
    assert (results["used"], results["gmv"]) == (1, order.json()["payable"])
    assert order.json()["payable"] < 2000 + 1000  # the coupon's 300 off

    export = await client.get(f"{m}/campaigns/{campaign_id}/export", headers=auth)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert len(export.content.decode("utf-8-sig").splitlines()) == 4


async def test_a_filter_audience(client: httpx.AsyncClient, rt: Runtime) -> None:
    """Last purchase more than 60 days ago and more than 10000 fen spent."""
    merchant = await onboard(client)
    sku = await make_sku(rt, merchant)
    now = utcnow()
    people = {
        name: (await make_member(rt, merchant, nickname=name)).id
        for name in ("old_big", "recent_big", "old_small")
    }
    await insert_order(rt, merchant, people["old_big"], now - timedelta(days=90), 20000, sku, {})
    await insert_order(rt, merchant, people["recent_big"], now - timedelta(days=90), 20000, sku, {})
    await insert_order(rt, merchant, people["recent_big"], now - timedelta(days=10), 30000, sku, {})
    await insert_order(rt, merchant, people["old_small"], now - timedelta(days=90), 500, sku, {})
    preview = await client.post(
        f"{merchant.merchant}/campaigns/preview",
        json={"audience": {"kind": "filter", "inactive_days": 60, "spent_over": 10000}},
        headers=merchant.auth,
    )
    assert preview.status_code == 200, preview.text
    assert preview.json() == {"members": 1}
    only_old = await client.post(
        f"{merchant.merchant}/campaigns/preview",
        json={"audience": {"kind": "filter", "inactive_days": 60}},
        headers=merchant.auth,
    )
    assert only_old.json() == {"members": 2}
    template = await make_template(client, merchant, claimable=False)
    made = await create(
        client,
        merchant,
        template["id"],
        {"kind": "filter", "inactive_days": 60, "spent_over": 10000},
    )
    tenant = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        await service.start(ctx, made.json()["id"])
    assert await jobs.run(rt, tenant.id, made.json()["id"]) == 1
    async with rt.db.tenant_session(merchant.id) as session:
        holders = (await session.scalars(select(MemberCoupon.member_id))).all()
    assert holders == [people["old_big"]]


async def test_bad_campaigns(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await onboard(client)
    m, auth = merchant.merchant, merchant.auth
    template = await make_template(client, merchant, claimable=False)
    segment = {"kind": "segment", "segment": SEGMENT}
    problem(await create(client, merchant, "0" * 26, segment), 404, "coupon.not_found")
    problem(
        await create(client, merchant, template["id"], {"kind": "filter"}),
        422,
        "campaign.empty_filter",
    )
    assert (
        await create(client, merchant, template["id"], {"kind": "segment", "segment": "vip"})
    ).status_code == 400
    assert (await create(client, merchant, template["id"], {"kind": "everyone"})).status_code == 400
    assert (
        await create(client, merchant, template["id"], {"kind": "filter", "spent_over": -1})
    ).status_code == 400
    stopped = await client.patch(
        f"{m}/coupons/templates/{template['id']}", json={"status": "stopped"}, headers=auth
    )
    assert stopped.status_code == 200, stopped.text
    problem(await create(client, merchant, template["id"], segment), 409, "coupon.not_claimable")
    problem(await client.get(f"{m}/campaigns/{'0' * 26}", headers=auth), 404, "campaign.not_found")
    clerk = await staff_auth(client, merchant, "clerk")
    problem(await client.get(f"{m}/campaigns/", headers=clerk), 403, "auth.role_required")


async def test_resume_picks_up_a_running_campaign(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await onboard(client)
    await seed_segment(rt, merchant, SEGMENT, 5)
    template = await make_template(client, merchant, claimable=False)
    made = await create(client, merchant, template["id"], {"kind": "segment", "segment": SEGMENT})
    tenant = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        await service.start(ctx, made.json()["id"])
    assert await jobs.resume(rt) >= 1  # the lost run is queued again, then runs
    if not hasattr(rt.jobs, "drain"):
        await jobs.run(rt, tenant.id, made.json()["id"])  # no worker here: run it as one would

    async def all_issued() -> bool:
        return await coupons_of(rt, merchant, template["id"]) == (5, 5)

    await eventually(all_issued, what="the resumed run")


async def test_a_campaign_may_send_a_subscribe_message_with_each_coupon(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await onboard(client)
    members = await seed_segment(rt, merchant, SEGMENT, 3)
    template = await make_template(client, merchant, claimable=False, name="回流立减券")
    issued = await client.post(
        f"{merchant.merchant}/coupons/templates/{template['id']}/issue",
        json={"member_ids": [members[0]]},
        headers=merchant.auth,
    )
    assert issued.json()["issued"] == 1  # this one is skipped: the limit is one
    made = await create(
        client, merchant, template["id"], {"kind": "segment", "segment": SEGMENT}, notify=True
    )
    assert made.status_code == 201 and made.json()["notify"] is True
    tenant = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        await service.start(ctx, made.json()["id"])
    assert await jobs.run(rt, tenant.id, made.json()["id"]) == 2
    assert await jobs.run(rt, tenant.id, made.json()["id"]) == 0
    async with reading(rt, merchant) as session:
        notices = (
            await session.scalars(
                select(Notification).where(Notification.event == "campaign.coupon")
            )
        ).all()
    assert sorted(n.member_id for n in notices) == sorted(members[1:])
    assert {n.ref for n in notices} == {made.json()["id"]}
    assert {n.values["coupon"] for n in notices} == {"回流立减券"}
    assert {n.values["campaign"] for n in notices} == {"回流礼"}
