"""Every notice the store sends goes through the outbox: a paid pickup order's "ready" notice
delivered end to end over the fake WeChat; orders paid and shipped, refunds made and refused;
a failed group-buy team, whose members are each refunded and told once; coupons about to
expire (points are in tests/points/test_ledger.py, pickup reminders in
tests/pickup/test_unclaimed.py)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, update

from core.coupons import notices as coupon_notices
from core.coupons.models import MemberCoupon
from core.db import utcnow
from core.members.models import Member
from core.runtime import Runtime
from plugins.groupbuy import teams
from storeplug.testing import Merchant, eventually, onboard
from storeplug.testing.fakes.wechat import FakeApp, FakeWeChat, connect_store, wx_login
from tests.commerce.coupons_support import claimed
from tests.commerce.orders_support import make_sku, new_shop
from tests.commerce.payments_support import use_sandbox
from tests.commerce.refunds_support import (
    ask_refund,
    paid_order,
    refund_directly,
    refunds_of,
    settled,
)
from tests.groupbuy.support import group_store, join_team, opened_team, pay_sandbox, placed
from tests.notifications.support import map_template, notices, subscribe
from tests.notifications.test_fields import LONG_NAME
from tests.pickup.support import (
    HERE,
    first_slot,
    make_point,
    pickup_body,
    pickup_store,
    placed_and_paid,
    ticket,
)


async def test_a_paid_pickup_order_sends_its_ready_notice(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    merchant = await pickup_store(client)
    await use_sandbox(client, merchant)
    app = await connect_store(client, merchant, fake_wechat)
    template_id = app.add_template(["thing1", "character_string2", "thing3", "time4"])
    keys = [
        {"key": "thing1", "field": "product"},
        {"key": "character_string2", "field": "code"},
        {"key": "thing3", "field": "point"},
        {"key": "time4", "field": "slot"},
    ]
    await map_template(client, merchant, "pickup.ready", template_id, keys)
    buyer = await wx_login(client, merchant, app)
    await subscribe(client, merchant, app, buyer, template_id)
    point = await make_point(client, merchant, "南山科技园店", *HERE)
    sku = await make_sku(rt, merchant, price=1990, title=LONG_NAME[:50])
    slot = await first_slot(client, merchant, point["id"])
    body = pickup_body(sku.id, point["id"], slot, quantity=2)
    order_id = await placed_and_paid(client, merchant, buyer, body)
    code = (await ticket(client, merchant, buyer, order_id))["code"]

    [ready] = await notices(rt, merchant, event="pickup.ready")
    assert (ready.member_id, ready.ref, ready.values["code"]) == (buyer.id, order_id, code)

    async def delivered() -> bool:
        [row] = await notices(rt, merchant, event="pickup.ready")
        return row.status == "sent"

    await eventually(delivered, what="the ready notice to be sent")
    [message] = app.messages
    assert (message.touser, message.template_id) == (buyer.openid, template_id)
    assert message.data["character_string2"] == code
    assert message.data["thing3"] == "南山科技园店"
    # The 50-character name is cut so that "等2件" still fits in the 20 of a thing.
    product = message.data["thing1"]
    assert product.endswith("…等2件") and len(product) <= 20
    assert LONG_NAME.startswith(product[: -len("…等2件")])
    assert message.page == f"pages/order/detail?id={order_id}"
    # The order's own "paid" notice is recorded too; this store sends none (no template).
    [paid] = await notices(rt, merchant, event="order.paid")
    assert (paid.status, paid.reason) == ("skipped", "no template")


async def test_orders_paid_shipped_refunded_and_refused_are_recorded(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    shop = await new_shop(client, rt)
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, price=1990, title="拿铁咖啡")
    order = await paid_order(client, rt, shop, [(sku, 1)])
    [paid] = await notices(rt, merchant, event="order.paid")
    assert paid.member_id == buyer.id and paid.ref == order["id"]
    assert paid.values["order_number"] == order["number"]
    fen = order["payable"]
    assert (paid.values["product"], paid.values["amount"]) == (
        "拿铁咖啡",
        f"¥{fen // 100}.{fen % 100:02d}",
    )
    asked = await ask_refund(client, merchant, buyer, order["id"], {"reason": "不想要了"})
    assert asked.status_code == 201, asked.text
    rejected = await client.post(
        f"{merchant.merchant}/refunds/{asked.json()['id']}/reject",
        json={"reason": "商品已制作"},
        headers=merchant.auth,
    )
    assert rejected.status_code == 200, rejected.text
    [refused] = await notices(rt, merchant, event="refund.refused")
    assert (refused.values["reason"], refused.ref) == ("商品已制作", order["id"])

    shipped = await client.post(
        f"{merchant.merchant}/orders/{order['id']}/ship",
        json={"carrier": "顺丰速运", "tracking_no": "SF1234567890"},
        headers=merchant.auth,
    )
    assert shipped.status_code == 200, shipped.text
    [ship] = await notices(rt, merchant, event="order.shipped")
    assert (ship.values["carrier"], ship.values["tracking_no"]) == ("顺丰速运", "SF1234567890")
    assert "年" in ship.values["shipped_at"]

    made = await refund_directly(client, merchant, order["id"], {"reason": "缺货补偿"})
    assert made.status_code == 201, made.text
    await settled(client, rt, merchant, made.json()["id"], "succeeded")
    [refunded] = await notices(rt, merchant, event="refund.succeeded")
    assert (refunded.values["reason"], refunded.ref) == ("缺货补偿", order["id"])
    assert refunded.values["amount"] == paid.values["amount"]


async def _known_to(app: FakeApp, rt: Runtime, merchant: Merchant, member_id: str) -> str:
    """A member made in the database has signed in to the app once: WeChat knows its openid."""
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, merchant.id)
        openid = await session.scalar(select(Member.openid).where(Member.id == member_id))
    assert openid is not None
    app.login_code(openid)
    return openid


async def test_a_failed_team_refunds_each_member_and_tells_each_once(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, worker: None
) -> None:
    store = await group_store(client, rt, members=3, team_size=4)
    merchant = store.merchant
    app = await connect_store(client, merchant, fake_wechat)
    template_id = app.add_template(["thing1", "amount2", "thing3"])
    keys = [
        {"key": "thing1", "field": "product"},
        {"key": "amount2", "field": "amount"},
        {"key": "thing3", "field": "reason"},
    ]
    await map_template(client, merchant, "groupbuy.failed", template_id, keys)
    openids = {}
    for buyer in store.buyers:
        openids[buyer.id] = await _known_to(app, rt, merchant, buyer.id)
        app.subscribe(openids[buyer.id], template_id)
        answered = await client.post(
            f"{merchant.store}/me/subscriptions",
            json={"results": {template_id: "accept"}},
            headers=buyer.auth,
        )
        assert answered.status_code == 200, answered.text
    leader, *others = store.buyers
    team_id, leader_order = await opened_team(client, store, leader)
    orders = [leader_order]
    for buyer in others:
        joined = await placed(await join_team(client, store, buyer, team_id))
        await pay_sandbox(client, store, buyer, joined["order_id"])
        orders.append(joined["order_id"])
    closed = await client.post(
        f"{merchant.merchant}/groupbuy/teams/{team_id}/close", json={}, headers=merchant.auth
    )
    assert closed.status_code == 200, closed.text

    async def all_told() -> bool:
        rows = await notices(rt, merchant, event="groupbuy.failed")
        return len(rows) == 3 and all(r.status == "sent" for r in rows)

    await eventually(all_told, what="three failure notices sent")
    for order_id in orders:
        [refund] = await refunds_of(rt, merchant, order_id)
        await settled(client, rt, merchant, refund.id, "succeeded")
    rows = await notices(rt, merchant, event="groupbuy.failed")
    assert sorted(r.ref for r in rows) == sorted(orders)
    assert sorted(m.touser for m in app.messages) == sorted(openids.values())
    assert {m.data["thing3"] for m in app.messages} == {"拼团未成功，已退款"}
    assert {m.data["amount2"] for m in app.messages} == {"¥29.90"}
    # The settle job again, and the sweep: nobody is refunded or told twice.
    tenant = await rt.tenants.resolve(merchant.slug)
    await teams.settle_team(rt, tenant, team_id)
    assert len(await notices(rt, merchant, event="groupbuy.failed")) == 3
    for order_id in orders:
        assert len(await refunds_of(rt, merchant, order_id)) == 1
    assert len(app.messages) == 3


async def test_coupons_about_to_expire_are_announced_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    shop = await new_shop(client, rt)
    merchant, buyer = shop.merchant, shop.buyer
    soon = await claimed(client, merchant, buyer, "threshold", name="周末券")
    later = await claimed(client, merchant, buyer, "fixed", name="新客券")
    far = await claimed(client, merchant, buyer, "fixed", name="年度券")
    now = utcnow()
    async with rt.db.tenant_session(merchant.id) as session:
        for coupon_id, ends in ((soon, 5), (later, 30), (far, 24 * 10)):
            await session.execute(
                update(MemberCoupon)
                .where(MemberCoupon.id == coupon_id)
                .values(valid_until=now + timedelta(hours=ends))
            )
    other = await onboard(client)  # a tenant with nothing to announce
    assert await coupon_notices.notify_tenant(rt, other.id) == 0
    assert await coupon_notices.notify_tenant(rt, merchant.id) == 1
    [row] = await notices(rt, merchant, event="coupon.expiring")
    assert (row.member_id, row.ref) == (buyer.id, soon)
    assert (row.values["coupon"], row.values["benefit"], row.values["count"]) == (
        "周末券",
        "满100减20",
        "2",
    )
    # The next hour's run: already announced.
    assert await coupon_notices.notify_tenant(rt, merchant.id) == 0
    await coupon_notices.expiring_notices(rt)  # the cron over every tenant
    assert len(await notices(rt, merchant, event="coupon.expiring")) == 1
