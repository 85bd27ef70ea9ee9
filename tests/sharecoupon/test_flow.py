"""The share coupon's whole life over HTTP: a paid order unlocks a pack, the buyer shares
it, five friends claim (three of them new, registered through the share), the sixth finds
it empty, a friend pays with the coupon and the sharer's reward is granted once; the
figures the merchant reads afterwards."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from core.coupons.models import MemberCoupon
from core.db import utcnow
from core.members.models import Member
from core.runtime import Runtime
from plugins.sharecoupon.models import ShareClaim, ShareReferral, ShareReward
from storeplug.testing import problem
from storeplug.testing.fakes.wechat import FakeWeChat, wx_login
from tests.commerce.coupons_support import make_template
from tests.commerce.orders_support import make_address
from tests.flashsale.support import Buyer
from tests.notifications.support import notices
from tests.sharecoupon.support import (
    COUPON_OFF,
    PRICE,
    claim,
    coupons_issued,
    pack_of,
    pack_row,
    paid_order,
    people,
    share_store,
    shared_pack,
)


async def test_a_pack_shared_to_five_friends_and_the_reward_granted_once(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat)
    m = store.merchant
    reward_template = await make_template(
        client, m, "fixed", amount=800, claimable=False, name="分享奖励"
    )
    replaced = await client.put(
        f"{m.merchant}/sharecoupon/campaigns/{store.campaign['id']}",
        json={
            "title": "分享立减金",
            "template_id": store.template["id"],
            "pack_size": 5,
            "min_order_amount": 10000,
            "coupon_valid_days": 3,
            "reward": {"kind": "coupon", "when": "first_use", "template_id": reward_template["id"]},
        },
        headers=m.auth,
    )
    assert replaced.status_code == 200, replaced.text
    [sharer] = await people(rt, store, 1)

    # An order over the threshold unlocks a pack of five.
    order_id = await paid_order(client, store, sharer)
    pack = await pack_of(client, store, sharer, order_id)
    assert pack.status_code == 200, pack.text
    body = pack.json()
    assert (body["size"], body["left"], body["status"], body["shared"]) == (5, 5, "active", False)
    assert body["coupon"]["label"] == "立减10元"
    assert body["reward"] == {"kind": "coupon", "status": "pending", "points": 0, "coupon_id": None}
    mine = await client.get(f"{m.store}/sharecoupon/packs", headers=sharer.auth)
    assert [p["id"] for p in mine.json()["items"]] == [body["id"]]

    # Sharing: a token that is not the pack's id, and the path for onShareAppMessage.
    pack_id, token = await shared_pack(client, store, sharer, order_id)
    again = await client.post(f"{m.store}/sharecoupon/packs/{pack_id}/share", headers=sharer.auth)
    assert again.json()["token"] == token  # the same token every time
    assert pack_id not in token and len(token) == 24
    assert again.json()["path"] == f"/pages/sharecoupon/claim?t={token}"
    assert (await pack_row(rt, m, pack_id)).token_hash != token  # stored hashed

    # Five friends: two members already, three new ones who arrive through the share.
    known = await people(rt, store, 2)
    newcomers = [
        await wx_login(client, m, store.app, source="share", source_ref=f"sharecoupon:{token}")
        for _ in range(3)
    ]
    coupon_of: dict[str, str] = {}
    for friend in [*known, *newcomers]:
        claimed = await claim(client, store, friend, token)
        assert claimed.status_code == 201, claimed.text
        coupon_of[friend.id] = claimed.json()["coupon_id"]
    assert claimed.json()["left"] == 0
    # The campaign's coupon validity (3 days) shortens the template's (30 days).
    valid_until = datetime.fromisoformat(claimed.json()["valid_until"])
    assert timedelta(days=2.9) < valid_until - utcnow() <= timedelta(days=3)
    [sixth] = await people(rt, store, 1)
    problem(await claim(client, store, sixth, token), 409, "sharecoupon.pack_empty")

    # The newcomers were registered with the sharer as their reference; the token is not kept.
    async with rt.db.tenant_session(m.id) as session:
        rows = (
            await session.execute(
                select(Member.source, Member.source_ref).where(
                    Member.id.in_([n.id for n in newcomers])
                )
            )
        ).all()
        referrals = (
            await session.scalars(select(ShareReferral).where(ShareReferral.pack_id == pack_id))
        ).all()
        flags = dict(
            (await session.execute(select(ShareClaim.member_id, ShareClaim.new_member))).all()
        )
    assert sorted(rows) == [("share", sharer.id)] * 3
    assert {r.member_id for r in referrals} == {n.id for n in newcomers}
    assert {r.sharer_id for r in referrals} == {sharer.id}
    assert [flags[n.id] for n in newcomers] == [True] * 3
    assert [flags[k.id] for k in known] == [False, False]

    # The share page shows the claimers by nickname and avatar only.
    page = await client.get(f"{m.store}/sharecoupon/shares/{token}")
    assert page.status_code == 200, page.text
    shown = page.json()
    assert (shown["left"], shown["status"], shown["title"]) == (0, "empty", "分享立减金")
    assert len(shown["claimers"]) == 5
    assert all(set(c) == {"nickname", "avatar_url", "claimed_at"} for c in shown["claimers"])
    assert sharer.id not in page.text and all(f.id not in page.text for f in known)

    # Each friend holds one coupon, no coupon twice, and the pack counts what was issued.
    assert await coupons_issued(rt, m, pack_id) == (5, 5, 5)
    assert (await pack_row(rt, m, pack_id)).claimed == 5

    # A friend pays with the claimed coupon; the reward is granted once, to the sharer.
    buyer = known[0]
    used_order = await paid_order(client, store, buyer, coupon_id=coupon_of[buyer.id])
    newcomer = newcomers[0]
    address = await make_address(rt, m, newcomer.id)
    newcomer_buyer = Buyer(id=newcomer.id, token=newcomer.token, address_id=address)
    await paid_order(client, store, newcomer_buyer, coupon_id=coupon_of[newcomer.id])
    async with rt.db.tenant_session(m.id) as session:
        rewards = (await session.scalars(select(ShareReward))).all()
        sharer_coupons = (
            await session.scalars(
                select(MemberCoupon).where(
                    MemberCoupon.member_id == sharer.id,
                    MemberCoupon.template_id == reward_template["id"],
                )
            )
        ).all()
        used = await session.scalar(select(ShareClaim).where(ShareClaim.order_id == used_order))
    [reward] = [r for r in rewards if r.pack_id == pack_id]
    assert reward.status == "granted" and reward.coupon_id == sharer_coupons[0].id
    assert len(sharer_coupons) == 1  # once, though two friends paid with their coupons
    assert (
        used is not None and used.discount == COUPON_OFF and used.order_amount == PRICE - COUPON_OFF
    )
    shown = (await pack_of(client, store, sharer, order_id)).json()
    assert shown["reward"]["status"] == "granted"

    # The sharer was told of each claim, and of the reward once, in the outbox.
    claimed_notices = await notices(rt, m, event="sharecoupon.claimed", member_id=sharer.id)
    assert [n.values["left"] for n in claimed_notices] == ["4", "3", "2", "1", "0"]
    assert all(n.ref == pack_id for n in claimed_notices)
    [rewarded] = await notices(rt, m, event="sharecoupon.rewarded", member_id=sharer.id)
    assert rewarded.values["reward"] == "分享奖励（立减8元）"

    # The merchant's figures.
    stats = await client.get(
        f"{m.merchant}/sharecoupon/campaigns/{store.campaign['id']}/stats", headers=m.auth
    )
    assert stats.status_code == 200, stats.text
    totals = stats.json()["totals"]
    # Three packs: the sharer's, and the two friends' orders over the threshold unlocked theirs.
    assert totals["packs_issued"] == 3
    assert totals["packs_shared"] == 1
    assert totals["claims"] == 5
    assert totals["claim_rate_percent"] == 5 * 100 // 15
    assert totals["new_members"] == 3
    assert totals["coupons_used"] == 2
    assert totals["gmv"] == 2 * (PRICE - COUPON_OFF)
    assert totals["discount_cost"] == 2 * COUPON_OFF
    assert (totals["rewards_granted"], totals["reward_coupon_value"]) == (1, 800)
    [day] = stats.json()["days"]
    assert day["claims"] == 5
