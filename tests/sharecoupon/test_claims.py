"""Claiming over HTTP on both backends: the race for a pack's last coupons, forged tokens,
own packs, one claim per campaign, budgets, refunds, eligibility, expiry, the plugin off,
and the campaign's settings checked field by field."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from core.db import utcnow
from core.members.models import Member
from core.orders.models import Order
from core.runtime import Runtime
from plugins.points.models import PointsEntry
from plugins.sharecoupon.models import SharePack, ShareReferral
from storeplug.testing import problem
from storeplug.testing.fakes.wechat import FakeWeChat, wx_login
from tests.commerce.coupons_support import make_template
from tests.commerce.orders_support import make_sku
from tests.commerce.refunds_support import refund_directly, settled
from tests.sharecoupon.support import (
    PRICE,
    campaign_body,
    claim,
    coupons_issued,
    pack_of,
    pack_row,
    paid_order,
    people,
    share_store,
    shared_pack,
)


async def test_twenty_friends_race_for_the_last_two_coupons(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat)
    [sharer] = await people(rt, store, 1)
    pack_id, token = await shared_pack(
        client, store, sharer, await paid_order(client, store, sharer)
    )
    for early in await people(rt, store, 3):
        assert (await claim(client, store, early, token)).status_code == 201
    racers = await people(rt, store, 20)
    answers = await asyncio.gather(*(claim(client, store, friend, token) for friend in racers))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * 2 + [409] * 18, [a.text for a in answers if a.status_code != 201]
    for answer in answers:
        if answer.status_code == 409:
            problem(answer, 409, "sharecoupon.pack_empty")
    assert (await pack_row(rt, store.merchant, pack_id)).claimed == 5
    assert await coupons_issued(rt, store.merchant, pack_id) == (5, 5, 5)


async def test_a_forged_or_altered_token_answers_404_and_nothing_else(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat)
    other = await share_store(client, rt, fake_wechat)
    [sharer] = await people(rt, store, 1)
    pack_id, token = await shared_pack(
        client, store, sharer, await paid_order(client, store, sharer)
    )
    [their_sharer] = await people(rt, other, 1)
    _, their_token = await shared_pack(
        client, other, their_sharer, await paid_order(client, other, their_sharer)
    )
    [friend] = await people(rt, store, 1)
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    answers = []
    for forged in (
        altered,
        token.upper(),
        token[:-2],
        "x" * 24,
        pack_id,
        their_token,
        "%00" + token,
    ):
        page = await client.get(f"{store.merchant.store}/sharecoupon/shares/{forged}")
        taken = await claim(client, store, friend, forged)
        for answer in (page, taken):
            if answer.status_code == 404 and answer.json()["code"] == "not_found":
                continue  # the router's own 404 for a path it does not route
            answers.append(problem(answer, 404, "sharecoupon.share_not_found"))
    assert answers and all(a == answers[0] for a in answers)  # the same body, whatever was wrong
    assert (await pack_row(rt, store.merchant, pack_id)).claimed == 0
    assert (await claim(client, store, friend, token)).status_code == 201


async def test_the_sharer_cannot_claim_their_own_pack(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat)
    [sharer] = await people(rt, store, 1)
    pack_id, token = await shared_pack(
        client, store, sharer, await paid_order(client, store, sharer)
    )
    problem(await claim(client, store, sharer, token), 409, "sharecoupon.own_pack")
    assert (await pack_row(rt, store.merchant, pack_id)).claimed == 0


@pytest.mark.parametrize("one_per_campaign", [True, False])
async def test_one_claim_per_campaign_across_two_packs_when_the_campaign_says_so(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, one_per_campaign: bool
) -> None:
    store = await share_store(client, rt, fake_wechat, one_per_campaign=one_per_campaign)
    first, second, friend = await people(rt, store, 3)
    _, token_a = await shared_pack(client, store, first, await paid_order(client, store, first))
    _, token_b = await shared_pack(client, store, second, await paid_order(client, store, second))
    assert (await claim(client, store, friend, token_a)).status_code == 201
    problem(await claim(client, store, friend, token_a), 409, "sharecoupon.already_claimed")
    again = await claim(client, store, friend, token_b)
    if one_per_campaign:
        problem(again, 409, "sharecoupon.already_claimed")
    else:
        assert again.status_code == 201, again.text


async def test_two_taps_at_once_claim_once(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat)
    first, second, friend = await people(rt, store, 3)
    pack_a, token_a = await shared_pack(
        client, store, first, await paid_order(client, store, first)
    )
    pack_b, token_b = await shared_pack(
        client, store, second, await paid_order(client, store, second)
    )
    answers = await asyncio.gather(
        *(claim(client, store, friend, token) for token in (token_a, token_b) * 4)
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7
    claimed = [(await pack_row(rt, store.merchant, p)).claimed for p in (pack_a, pack_b)]
    assert sorted(claimed) == [0, 1]


async def test_a_budget_of_three_packs_gives_the_fourth_order_none(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat, max_packs=3)
    buyers = await people(rt, store, 4)
    orders = [await paid_order(client, store, buyer) for buyer in buyers]
    for buyer, order_id in zip(buyers[:3], orders[:3], strict=True):
        assert (await pack_of(client, store, buyer, order_id)).status_code == 200
    problem(await pack_of(client, store, buyers[3], orders[3]), 404, "sharecoupon.pack_not_found")
    m = store.merchant
    seen = await client.get(
        f"{m.merchant}/sharecoupon/campaigns/{store.campaign['id']}", headers=m.auth
    )
    assert (seen.json()["phase"], seen.json()["packs_issued"]) == ("spent", 3)
    listed = await client.get(f"{m.merchant}/sharecoupon/campaigns", headers=m.auth)
    assert [c["phase"] for c in listed.json()["items"]] == ["spent"]
    lowered = await client.put(
        f"{m.merchant}/sharecoupon/campaigns/{store.campaign['id']}",
        json=campaign_body(store.template["id"], max_packs=2),
        headers=m.auth,
    )
    assert (
        problem(lowered, 422, "sharecoupon.invalid_campaign")["errors"][0]["field"] == "max_packs"
    )


async def test_a_claims_budget_stops_claims_cleanly(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat, max_claims=2)
    [sharer] = await people(rt, store, 1)
    _, token = await shared_pack(client, store, sharer, await paid_order(client, store, sharer))
    friends = await people(rt, store, 3)
    assert [(await claim(client, store, f, token)).status_code for f in friends[:2]] == [201, 201]
    problem(await claim(client, store, friends[2], token), 409, "sharecoupon.over_budget")


async def test_a_full_refund_voids_the_unclaimed_and_leaves_the_claimed(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await share_store(client, rt, fake_wechat)
    m = store.merchant
    [sharer] = await people(rt, store, 1)
    order_id = await paid_order(client, store, sharer)
    pack_id, token = await shared_pack(client, store, sharer, order_id)
    friends = await people(rt, store, 3)
    claimed = [await claim(client, store, f, token) for f in friends[:2]]
    assert [c.status_code for c in claimed] == [201, 201]

    refund = await refund_directly(client, m, order_id, {"reason": "不要了"})
    assert refund.status_code == 201, refund.text
    await settled(client, rt, m, refund.json()["id"], "succeeded")

    problem(await claim(client, store, friends[2], token), 409, "sharecoupon.pack_void")
    shown = (await pack_of(client, store, sharer, order_id)).json()
    assert (shown["status"], shown["left"]) == ("void", 3)
    assert (await pack_row(rt, m, pack_id)).claimed == 2
    for friend, answer in zip(friends[:2], claimed, strict=True):
        mine = await client.get(f"{m.store}/me/coupons", headers=friend.auth)
        [coupon] = [c for c in mine.json()["items"] if c["id"] == answer.json()["coupon_id"]]
        assert coupon["status"] == "available"  # the friend's coupon is still theirs
    # ... and usable.
    used = await paid_order(client, store, friends[0], coupon_id=claimed[0].json()["coupon_id"])
    assert used


async def test_a_reward_not_yet_granted_is_cancelled_by_the_refund(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await share_store(
        client,
        rt,
        fake_wechat,
        plugins=("sharecoupon", "points"),
        reward={"kind": "points", "when": "claims", "claims": 2, "points": 50},
    )
    m = store.merchant
    sharer, other = await people(rt, store, 2)
    order_id = await paid_order(client, store, sharer)
    _, token = await shared_pack(client, store, sharer, order_id)
    other_order = await paid_order(client, store, other)
    _, other_token = await shared_pack(client, store, other, other_order)
    friends = await people(rt, store, 3)
    assert (await claim(client, store, friends[0], token)).status_code == 201
    for friend in friends[1:]:
        assert (await claim(client, store, friend, other_token)).status_code == 201
    granted = (await pack_of(client, store, other, other_order)).json()["reward"]
    assert granted["status"] == "granted" and granted["points"] == 50
    async with rt.db.tenant_session(m.id) as session:
        entries = (
            await session.scalars(
                select(PointsEntry).where(
                    PointsEntry.member_id == other.id, PointsEntry.ref_type == "sharecoupon"
                )
            )
        ).all()
    assert [(e.kind, e.points) for e in entries] == [("earn", 50)]  # once, though 2 claimed
    refund = await refund_directly(client, m, order_id, {"reason": "不要了"})
    assert refund.status_code == 201, refund.text
    await settled(client, rt, m, refund.json()["id"], "succeeded")
    assert (await pack_of(client, store, sharer, order_id)).json()["reward"][
        "status"
    ] == "cancelled"


async def test_new_members_only_refuses_a_customer_who_has_bought(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat, claimers="new_members")
    sharer, customer, newcomer = await people(rt, store, 3)
    _, token = await shared_pack(client, store, sharer, await paid_order(client, store, sharer))
    await paid_order(client, store, customer)
    problem(await claim(client, store, customer, token), 403, "sharecoupon.not_eligible")
    assert (await claim(client, store, newcomer, token)).status_code == 201


async def test_an_expired_pack_and_a_stopped_campaign(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat)
    m = store.merchant
    first, second, friend = await people(rt, store, 3)
    pack_id, token = await shared_pack(client, store, first, await paid_order(client, store, first))
    _, other = await shared_pack(client, store, second, await paid_order(client, store, second))
    async with rt.db.tenant_session(m.id) as session:
        await session.execute(
            update(SharePack)
            .where(SharePack.id == pack_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    problem(await claim(client, store, friend, token), 409, "sharecoupon.pack_expired")
    stopped = await client.post(
        f"{m.merchant}/sharecoupon/campaigns/{store.campaign['id']}/stop", headers=m.auth
    )
    assert stopped.json()["status"] == "stopped"
    problem(await claim(client, store, friend, other), 409, "sharecoupon.campaign_ended")


async def test_the_plugin_off_answers_plugin_disabled(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat)
    m = store.merchant
    [sharer, friend] = await people(rt, store, 2)
    _, token = await shared_pack(client, store, sharer, await paid_order(client, store, sharer))
    off = await client.post(f"{m.merchant}/plugins/sharecoupon/disable", headers=m.auth)
    assert off.status_code == 200, off.text
    problem(await claim(client, store, friend, token), 404, "plugin.disabled")
    problem(await client.get(f"{m.store}/sharecoupon/shares/{token}"), 404, "plugin.disabled")


async def test_share_to_win_opens_one_pack_per_member(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat)
    m = store.merchant
    manual = await client.post(
        f"{m.merchant}/sharecoupon/campaigns",
        json={
            "title": "分享赢好礼",
            "template_id": store.template["id"],
            "pack_size": 3,
            "trigger": "manual",
        },
        headers=m.auth,
    )
    assert manual.status_code == 201, manual.text
    listed = await client.get(f"{m.store}/sharecoupon/campaigns")
    assert [c["id"] for c in listed.json()] == [manual.json()["id"]]
    [member] = await people(rt, store, 1)
    url = f"{m.store}/sharecoupon/campaigns/{manual.json()['id']}/packs"
    opened = await client.post(url, headers=member.auth)
    assert opened.status_code == 201, opened.text
    assert opened.json()["size"] == 3 and opened.json()["order_id"] is None
    problem(await client.post(url, headers=member.auth), 409, "sharecoupon.has_pack")
    order_campaign = f"{m.store}/sharecoupon/campaigns/{store.campaign['id']}/packs"
    problem(await client.post(order_campaign, headers=member.auth), 409, "sharecoupon.not_manual")


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"pack_size": 0}, 400, "pack_size"),
        ({"pack_size": 101}, 400, "pack_size"),
        ({"min_order_amount": -1}, 400, "min_order_amount"),
        ({"claimers": "friends"}, 400, "claimers"),
        ({"pack_valid_hours": 0}, 400, "pack_valid_hours"),
        ({"template_id": "not-an-id"}, 400, "template_id"),
        ({"bogus": 1}, 400, "bogus"),
        ({"reward": {"kind": "cash"}}, 400, "reward.kind"),
        ({"template_id": "0" * 26}, 422, "template_id"),
        ({"claimers": "dormant"}, 422, "dormant_days"),
        ({"trigger": "manual"}, 422, "min_order_amount"),
        ({"reward": {"kind": "coupon"}}, 422, "reward.template_id"),
        ({"reward": {"kind": "points", "points": 10}}, 422, "reward.kind"),
        ({"reward": {"kind": "points", "points": 10, "claims": 6}}, 422, "reward.claims"),
        ({"product_ids": ["0" * 26]}, 422, "product_ids"),
        ({"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, 422, "ends_at"),
    ],
)
async def test_campaign_settings_are_checked_field_by_field(
    client: httpx.AsyncClient,
    rt: Runtime,
    fake_wechat: FakeWeChat,
    change: dict[str, object],
    status: int,
    field: str,
) -> None:
    store = await share_store(client, rt, fake_wechat)
    m = store.merchant
    response = await client.post(
        f"{m.merchant}/sharecoupon/campaigns",
        json={**campaign_body(store.template["id"]), **change},
        headers=m.auth,
    )
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["field"] == field, response.text
    reward_template = await make_template(client, m, "fixed", amount=300, claimable=False)
    fine = await client.post(
        f"{m.merchant}/sharecoupon/campaigns",
        json={
            **campaign_body(store.template["id"]),
            "reward": {"kind": "coupon", "template_id": reward_template["id"], "claims": 3},
        },
        headers=m.auth,
    )
    assert fine.status_code == 201, fine.text


async def test_a_forged_share_reference_at_sign_in_names_no_one(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat)
    m = store.merchant
    newcomer = await wx_login(
        client, m, store.app, source="share", source_ref="sharecoupon:" + "A" * 24
    )
    async with rt.db.tenant_session(m.id) as session:
        member = await session.get(Member, (m.id, newcomer.id))
        referrals = await session.scalar(
            select(func.count())
            .select_from(ShareReferral)
            .where(ShareReferral.member_id == newcomer.id)
        )
    assert member is not None and (member.source, member.source_ref) == ("share", "")
    assert referrals == 0
    # Another feature's share reference is left as it came.
    other = await wx_login(client, m, store.app, source="share", source_ref="leader:42")
    async with rt.db.tenant_session(m.id) as session:
        member = await session.get(Member, (m.id, other.id))
    assert member is not None and member.source_ref == "leader:42"


async def test_dormant_claimers_have_not_bought_for_the_days_set(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat, claimers="dormant", dormant_days=30)
    sharer, recent, lapsed = await people(rt, store, 3)
    _, token = await shared_pack(client, store, sharer, await paid_order(client, store, sharer))
    await paid_order(client, store, recent)
    lapsed_order = await paid_order(client, store, lapsed)
    async with rt.db.tenant_session(store.merchant.id) as session:
        await session.execute(
            update(Order)
            .where(Order.id == lapsed_order)
            .values(paid_at=utcnow() - timedelta(days=31))
        )
    problem(await claim(client, store, recent, token), 403, "sharecoupon.not_eligible")
    assert (await claim(client, store, lapsed, token)).status_code == 201


async def test_a_void_or_expired_pack_cannot_be_shared_and_others_packs_are_404(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat)
    m = store.merchant
    sharer, stranger = await people(rt, store, 2)
    order_id = await paid_order(client, store, sharer)
    pack_id, _ = await shared_pack(client, store, sharer, order_id)
    for path in (f"packs/{pack_id}", f"orders/{order_id}/pack"):
        problem(
            await client.get(f"{m.store}/sharecoupon/{path}", headers=stranger.auth),
            404,
            "sharecoupon.pack_not_found",
        )
    share = f"{m.store}/sharecoupon/packs/{pack_id}/share"
    problem(await client.post(share, headers=stranger.auth), 404, "sharecoupon.pack_not_found")
    async with rt.db.tenant_session(m.id) as session:
        await session.execute(
            update(SharePack)
            .where(SharePack.id == pack_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    problem(await client.post(share, headers=sharer.auth), 409, "sharecoupon.pack_expired")
    async with rt.db.tenant_session(m.id) as session:
        await session.execute(
            update(SharePack).where(SharePack.id == pack_id).values(status="void")
        )
    problem(await client.post(share, headers=sharer.auth), 409, "sharecoupon.pack_void")


async def test_a_product_filter_unlocks_packs_only_for_orders_with_those_products(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat)
    m = store.merchant
    other = await make_sku(rt, m, price=PRICE, stock=10)
    stopped = await client.post(
        f"{m.merchant}/sharecoupon/campaigns/{store.campaign['id']}/stop", headers=m.auth
    )
    assert stopped.status_code == 200
    only = await client.post(
        f"{m.merchant}/sharecoupon/campaigns",
        json=campaign_body(store.template["id"], product_ids=[other.product_id]),
        headers=m.auth,
    )
    assert only.status_code == 201, only.text
    first, second = await people(rt, store, 2)
    plain = await paid_order(client, store, first)  # the store's usual SKU: not in the filter
    problem(await pack_of(client, store, first, plain), 404, "sharecoupon.pack_not_found")
    store.sku = other
    wanted = await paid_order(client, store, second)
    found = await pack_of(client, store, second, wanted)
    assert found.status_code == 200 and found.json()["campaign_id"] == only.json()["id"]
