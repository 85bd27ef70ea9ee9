"""WeChat Pay end to end over real HTTP, against the fake WeChat and WeChat Pay servers:
wx login → cart → order → pay (a signed JSAPI prepay) → ``paySign`` verified with the
merchant's public key → the buyer pays → WeChat's notification → the order is paid once.

Hostile notifications (a forged signature, a stale timestamp, a tampered amount, a wrong
mchid, another store's notification, an unknown payment) are refused and change nothing; the
same genuine notification sent five times at once pays once; a lost notification is recovered
by the reconcile job; an expired or cancelled order's payment is closed at WeChat Pay.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from core.db import new_id
from core.payments import jobs
from core.payments.models import Refund
from core.runtime import Runtime
from storeplug.testing import VENDOR, Merchant, eventually, onboard
from storeplug.testing.fakes.wechat import FakeWeChat, WxMember, connect_store, wx_login
from storeplug.testing.fakes.wechatpay import FakeMerchant, FakeWeChatPay
from tests.commerce.payments_support import (
    PaymentHooks,
    activate_provider,
    age_payment,
    drain,
    listening,
    member_total_paid,
    pay,
    payment_row,
    product_sales,
)


@dataclass
class Store:
    merchant: Merchant
    wxpay: FakeMerchant  # the store's merchant account at the fake WeChat Pay
    buyer: WxMember
    sku_id: str
    product_id: str
    address_id: str


async def open_store(
    client: httpx.AsyncClient, fake_wechat: FakeWeChat, fake_wechatpay: FakeWeChatPay
) -> Store:
    """A store with its mini-program, its WeChat Pay account (bound to that mini-program's
    AppID) active, a product, and a buyer signed in with ``wx.login`` who has an address."""
    merchant = await onboard(client)
    app = await connect_store(client, merchant, fake_wechat)
    wxpay = fake_wechatpay.register_merchant()
    wxpay.appid = app.appid  # WeChat Pay binds the mchid to the store's mini-program
    await activate_provider(client, merchant, "wechatpay", wxpay.config())
    product = await client.post(
        f"{merchant.merchant}/products/",
        json={
            "title": "燕麦拿铁",
            "status": "on",
            "skus": [{"specs": {"杯型": "大杯"}, "price": 3200, "stock": 20}],
        },
        headers=merchant.auth,
    )
    assert product.status_code == 201, product.text
    buyer = await wx_login(client, merchant, app)
    address = await client.post(
        f"{merchant.store}/me/addresses",
        json={
            "name": "韩梅梅",
            "phone": "13800138000",
            "province": "上海市",
            "city": "上海市",
            "district": "徐汇区",
            "detail": "漕溪北路 1 号",
        },
        headers=buyer.auth,
    )
    assert address.status_code == 201, address.text
    return Store(
        merchant=merchant,
        wxpay=wxpay,
        buyer=buyer,
        sku_id=product.json()["skus"][0]["id"],
        product_id=product.json()["id"],
        address_id=address.json()["id"],
    )


async def checkout(client: httpx.AsyncClient, store: Store, quantity: int = 2) -> dict[str, Any]:
    """Cart → order, as the mini-program does; the placed order."""
    s, auth = store.merchant.store, store.buyer.auth
    added = await client.post(
        f"{s}/cart/lines", json={"sku_id": store.sku_id, "quantity": quantity}, headers=auth
    )
    assert added.status_code == 201, added.text
    placed = await client.post(
        f"{s}/orders",
        json={
            "from_cart": True,
            "fulfillment": "express",
            "fulfillment_data": {"address_id": store.address_id},
        },
        headers={**auth, "Idempotency-Key": secrets.token_hex(8)},
    )
    assert placed.status_code == 201, placed.text
    order: dict[str, Any] = placed.json()
    return order


async def order_status(client: httpx.AsyncClient, store: Store, order_id: str) -> str:
    seen = await client.get(f"{store.merchant.store}/orders/{order_id}", headers=store.buyer.auth)
    assert seen.status_code == 200, seen.text
    status: str = seen.json()["status"]
    return status


def verify_pay_sign(store: Store, params: dict[str, str]) -> None:
    """``paySign`` is SHA256withRSA by the merchant key over WeChat's exact message."""
    public_key = serialization.load_pem_public_key(store.wxpay.public_key_pem.encode())
    assert isinstance(public_key, rsa.RSAPublicKey)
    signed = "".join(
        f"{part}\n"
        for part in (store.wxpay.appid, params["timeStamp"], params["nonceStr"], params["package"])
    ).encode()
    public_key.verify(
        base64.b64decode(params["paySign"]), signed, padding.PKCS1v15(), hashes.SHA256()
    )


async def opened_payment(
    client: httpx.AsyncClient, store: Store, fake: FakeWeChatPay
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A placed order and its opened (pending) payment: (order, pay answer)."""
    order = await checkout(client, store)
    answer = await pay(client, store.merchant, store.buyer, order["id"])
    assert answer.status_code == 201, answer.text
    return order, answer.json()


async def test_pay_with_wechat_pay_end_to_end(
    client: httpx.AsyncClient,
    rt: Runtime,
    fake_wechat: FakeWeChat,
    fake_wechatpay: FakeWeChatPay,
) -> None:
    store = await open_store(client, fake_wechat, fake_wechatpay)
    order = await checkout(client, store)
    with listening(rt) as hooks:
        answer = await pay(client, store.merchant, store.buyer, order["id"])
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert (body["provider"], body["status"]) == ("wechatpay", "pending")
        assert (body["amount"], body["order_status"]) == (order["payable"], "pending_payment")
        params = body["params"]
        assert set(params) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
        assert params["signType"] == "RSA"
        assert abs(int(params["timeStamp"]) - time.time()) < 60
        verify_pay_sign(store, params)

        # The prepay WeChat Pay holds: our payment id, the order's amount, the buyer's openid
        # and this store's notification URL.
        out_trade_no = body["payment_id"]
        _, trade = fake_wechatpay.trade(out_trade_no)
        assert params["package"] == f"prepay_id={trade.prepay_id}"
        assert (trade.mchid, trade.appid) == (store.wxpay.mchid, store.wxpay.appid)
        assert (trade.total, trade.openid) == (order["payable"], store.buyer.openid)
        assert (
            trade.notify_url == f"{rt.settings.public_url}/webhooks/{store.merchant.slug}/wechatpay"
        )
        assert trade.description == f"Shop {store.merchant.slug} {order['number']}"

        # Paying again (the sheet was closed) reuses the payment and its prepay, freshly signed.
        again = await pay(client, store.merchant, store.buyer, order["id"])
        assert again.status_code == 201, again.text
        assert again.json()["payment_id"] == out_trade_no
        assert again.json()["params"]["package"] == params["package"]
        verify_pay_sign(store, again.json()["params"])
        prepays = [r for r in fake_wechatpay.requests if r.url == "/v3/pay/transactions/jsapi"]
        assert sum(1 for r in prepays if out_trade_no.encode() in r.body) == 1

        # The buyer pays; WeChat notifies the store, which answers 204 once it is applied.
        delivered = await fake_wechatpay.pay(out_trade_no)
        assert delivered is not None and delivered.status_code == 204, delivered and delivered.text
        assert delivered.content == b""
    assert await order_status(client, store, order["id"]) == "paid"
    assert hooks.of("payment_succeeded", order["id"]) == 1
    assert hooks.of("order_paid", order["id"]) == 1
    payment = await payment_row(rt, store.merchant, out_trade_no)
    assert (payment.status, payment.paid_amount) == ("succeeded", order["payable"])
    assert payment.transaction_id == trade.transaction_id
    assert await member_total_paid(rt, store.merchant, store.buyer.id) == order["payable"]
    paid_again = await pay(client, store.merchant, store.buyer, order["id"])
    assert paid_again.json()["code"] == "order.already_paid"


async def test_hostile_notifications_are_refused_and_a_repeat_pays_once(
    client: httpx.AsyncClient,
    rt: Runtime,
    fake_wechat: FakeWeChat,
    fake_wechatpay: FakeWeChatPay,
) -> None:
    store = await open_store(client, fake_wechat, fake_wechatpay)
    other = await open_store(client, fake_wechat, fake_wechatpay)
    order, opened = await opened_payment(client, store, fake_wechatpay)
    _, theirs = await opened_payment(client, other, fake_wechatpay)
    out_trade_no = opened["payment_id"]
    # The buyer has paid, but WeChat's own notification has not come yet.
    assert await fake_wechatpay.pay(out_trade_no, notify=False) is None
    _, trade = fake_wechatpay.trade(out_trade_no)
    genuine = trade.answer()
    url = f"{rt.settings.public_url}/webhooks/{store.merchant.slug}/wechatpay"
    event = "TRANSACTION.SUCCESS"
    build = fake_wechatpay.build_notification
    mine = store.wxpay
    headers, body = build(mine, event, genuine)

    hostile: dict[str, tuple[int, str, dict[str, str], bytes]] = {}

    def add(name: str, status: int, made: tuple[dict[str, str], bytes], where: str = url) -> None:
        hostile[name] = (status, where, *made)

    add(
        "forged signature",
        401,
        build(mine, event, genuine, sign_with=rsa.generate_private_key(65537, 2048)),
    )
    add("stale timestamp", 401, build(mine, event, genuine, timestamp=int(time.time()) - 400))
    add("future timestamp", 401, build(mine, event, genuine, timestamp=int(time.time()) + 400))
    add("body changed after signing", 401, (headers, body.replace(b'"id":"', b'"id":"x')))
    add("wrong APIv3 key", 401, build(mine, event, genuine, apiv3_key="k" * 32))
    add("unknown key id", 401, build(mine, event, genuine, serial="PUB_KEY_ID_0999"))
    add("wrong mchid", 401, build(mine, event, {**genuine, "mchid": "1999999999"}))
    add("wrong appid", 401, build(mine, event, {**genuine, "appid": "wx" + "0" * 16}))
    tampered = {**genuine, "amount": {**genuine["amount"], "total": order["payable"] - 1}}
    add("tampered amount", 400, build(mine, event, tampered))
    add("another store's notification", 401, build(other.wxpay, event, genuine))
    add("unknown payment", 404, build(mine, event, {**genuine, "out_trade_no": new_id()}))
    add(
        "another store's payment",
        404,
        build(mine, event, {**genuine, "out_trade_no": theirs["payment_id"]}),
    )
    add("unknown store", 404, (headers, body), url.replace(store.merchant.slug, "no-such-store"))
    add("unknown provider", 404, (headers, body), url.replace("/wechatpay", "/alipay"))
    add("no headers", 401, ({"Content-Type": "application/json"}, body))

    with listening(rt) as hooks:
        for name, (status, where, forged_headers, forged_body) in hostile.items():
            refused = await fake_wechatpay.deliver(where, forged_headers, forged_body)
            assert refused.status_code == status, (name, refused.text)
            assert refused.json()["code"] == "FAIL", name
            assert refused.json()["message"], name
        assert hooks.calls == []
        assert await order_status(client, store, order["id"]) == "pending_payment"
        payment = await payment_row(rt, store.merchant, out_trade_no)
        assert (payment.status, payment.paid_amount, payment.transaction_id) == ("pending", 0, "")
        assert (await payment_row(rt, other.merchant, theirs["payment_id"])).status == "pending"

        # The genuine notification, five times at once: all acknowledged, paid once.
        answers = await asyncio.gather(
            *(fake_wechatpay.deliver(url, headers, body) for _ in range(5))
        )
        assert [a.status_code for a in answers] == [204] * 5, [a.text for a in answers]
        await paid_once(client, rt, store, order, hooks)
        # And once more, later: still once.
        later = await fake_wechatpay.deliver(url, headers, body)
        assert later.status_code == 204
        await paid_once(client, rt, store, order, hooks)


async def paid_once(
    client: httpx.AsyncClient,
    rt: Runtime,
    store: Store,
    order: dict[str, Any],
    hooks: PaymentHooks,
) -> None:
    assert await order_status(client, store, order["id"]) == "paid"
    assert hooks.of("payment_succeeded", order["id"]) == 1
    assert hooks.of("order_paid", order["id"]) == 1
    assert await member_total_paid(rt, store.merchant, store.buyer.id) == order["payable"]
    assert await product_sales(rt, store.merchant, store.product_id) == 2


async def test_a_suspended_store_still_gets_its_money(
    client: httpx.AsyncClient,
    rt: Runtime,
    fake_wechat: FakeWeChat,
    fake_wechatpay: FakeWeChatPay,
) -> None:
    store = await open_store(client, fake_wechat, fake_wechatpay)
    _, opened = await opened_payment(client, store, fake_wechatpay)
    suspended = await client.post(
        f"/vendor/v1/tenants/{store.merchant.slug}/suspend", headers=VENDOR
    )
    assert suspended.status_code == 200, suspended.text
    delivered = await fake_wechatpay.pay(opened["payment_id"])
    assert delivered is not None and delivered.status_code == 204, delivered and delivered.text
    assert (await payment_row(rt, store.merchant, opened["payment_id"])).status == "succeeded"


async def test_a_lost_notification_is_recovered_by_the_query_job(
    client: httpx.AsyncClient,
    rt: Runtime,
    fake_wechat: FakeWeChat,
    fake_wechatpay: FakeWeChatPay,
) -> None:
    store = await open_store(client, fake_wechat, fake_wechatpay)
    order, opened = await opened_payment(client, store, fake_wechatpay)
    out_trade_no = opened["payment_id"]
    with listening(rt) as hooks:
        assert await fake_wechatpay.pay(out_trade_no, notify=False) is None
        assert await order_status(client, store, order["id"]) == "pending_payment"
        await age_payment(rt, store.merchant, out_trade_no)
        await jobs.reconcile(rt)
        assert await order_status(client, store, order["id"]) == "paid"
        assert hooks.of("payment_succeeded", order["id"]) == 1
    queries = [
        r
        for r in fake_wechatpay.requests
        if r.method == "GET"
        and r.url.startswith(f"/v3/pay/transactions/out-trade-no/{out_trade_no}?")
    ]
    assert queries and queries[0].url.endswith(f"?mchid={store.wxpay.mchid}")
    assert (await payment_row(rt, store.merchant, out_trade_no)).checked_at is not None


async def test_expired_payments_are_closed_at_wechat_pay(
    client: httpx.AsyncClient,
    rt: Runtime,
    fake_wechat: FakeWeChat,
    fake_wechatpay: FakeWeChatPay,
) -> None:
    store = await open_store(client, fake_wechat, fake_wechatpay)
    _, opened = await opened_payment(client, store, fake_wechatpay)
    out_trade_no = opened["payment_id"]
    await age_payment(rt, store.merchant, out_trade_no, expired=True)
    await jobs.reconcile(rt)
    assert fake_wechatpay.trade(out_trade_no)[1].state == "CLOSED"
    assert (await payment_row(rt, store.merchant, out_trade_no)).status == "closed"


async def test_cancelling_closes_the_payment_at_wechat_pay(
    client: httpx.AsyncClient,
    rt: Runtime,
    fake_wechat: FakeWeChat,
    fake_wechatpay: FakeWeChatPay,
    worker: None,
) -> None:
    store = await open_store(client, fake_wechat, fake_wechatpay)
    order, opened = await opened_payment(client, store, fake_wechatpay)
    out_trade_no = opened["payment_id"]
    cancelled = await client.post(
        f"{store.merchant.store}/orders/{order['id']}/cancel", json={}, headers=store.buyer.auth
    )
    assert cancelled.status_code == 200, cancelled.text
    await drain(rt)

    async def closed() -> bool:
        # WeChat Pay closes the trade first; the job then records it in its own transaction.
        at_wechat = fake_wechatpay.trade(out_trade_no)[1].state == "CLOSED"
        row = await payment_row(rt, store.merchant, out_trade_no)
        return at_wechat and row.status == "closed"

    await eventually(closed, what="the trade closed at WeChat Pay and recorded")
    assert (await payment_row(rt, store.merchant, out_trade_no)).status == "closed"


async def test_money_that_beat_the_cancel_is_refunded(
    client: httpx.AsyncClient,
    rt: Runtime,
    fake_wechat: FakeWeChat,
    fake_wechatpay: FakeWeChatPay,
    worker: None,
) -> None:
    """The buyer paid, the notification is late, and the order is cancelled meanwhile: the
    close job finds the trade paid, settles it as late and refunds it at WeChat Pay."""
    store = await open_store(client, fake_wechat, fake_wechatpay)
    order, opened = await opened_payment(client, store, fake_wechatpay)
    out_trade_no = opened["payment_id"]
    assert await fake_wechatpay.pay(out_trade_no, notify=False) is None
    with listening(rt) as hooks:
        cancelled = await client.post(
            f"{store.merchant.store}/orders/{order['id']}/cancel",
            json={},
            headers=store.buyer.auth,
        )
        assert cancelled.status_code == 200, cancelled.text
        await drain(rt)

        async def refunded_at_wechat() -> bool:
            return any(r.out_trade_no == out_trade_no for r in fake_wechatpay.refunds.values())

        await eventually(refunded_at_wechat, what="the late payment refunded at WeChat Pay")
        assert hooks.calls == []
    payment = await payment_row(rt, store.merchant, out_trade_no)
    assert (payment.status, payment.late) == ("succeeded", True)
    assert await order_status(client, store, order["id"]) == "cancelled"
    [refund] = [r for r in fake_wechatpay.refunds.values() if r.out_trade_no == out_trade_no]
    assert refund.refund == order["payable"]
    # WeChat's refund notification reaches the refunds module through the same webhook.
    if refund.status == "PROCESSING":
        done = await fake_wechatpay.complete_refund(refund.out_refund_no)
        assert done is not None and done.status_code == 204, done and done.text

    async def refund_succeeded() -> bool:
        async with rt.db.tenant_session(store.merchant.id) as session:
            row = await session.get(Refund, (store.merchant.id, refund.out_refund_no))
        return row is not None and row.status == "succeeded"

    await eventually(refund_succeeded, what="the refund applied")
