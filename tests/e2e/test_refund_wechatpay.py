"""Refunds through WeChat Pay end to end, against the fake WeChat Pay server: the buyer pays,
the merchant refunds part and then the rest; each refund reaches WeChat Pay signed, with our
refund id as ``out_refund_no``, and WeChat's REFUND.* notification settles it. A repeated
notification has no second effect, a lost one is recovered by the reconcile job, and a refund
WeChat Pay gives up on (ABNORMAL) gives its hold back so the merchant can refund again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import msgspec
from sqlalchemy import update

from core.db import utcnow
from core.payments.models import Refund
from core.payments.providers import RefundResult
from core.payments.refund_jobs import reconcile
from core.payments.refunds import apply_refund_result
from core.runtime import Runtime
from storeplug.testing import enable, eventually
from storeplug.testing.fakes.wechat import FakeWeChat
from storeplug.testing.fakes.wechatpay import FakeWeChatPay
from tests.commerce.orders_support import order_row, stock_of
from tests.commerce.refunds_support import (
    ask_refund,
    hook_events,
    merchant_refund,
    refund_directly,
    settled,
)
from tests.e2e.test_wechatpay import Store, open_store, opened_payment

REFUNDS_API = "/v3/refund/domestic/refunds"
REASON = {"reason": "少发了一件"}


async def paid_store_order(
    client: httpx.AsyncClient, fake_wechat: FakeWeChat, fake: FakeWeChatPay
) -> tuple[Store, dict[str, Any], str]:
    """A store with the echo plugin on, and an order of 2 units paid through WeChat Pay:
    (store, order, out_trade_no)."""
    store = await open_store(client, fake_wechat, fake)
    assert (await enable(client, store.merchant, "echo")).status_code == 200
    order, opened = await opened_payment(client, store, fake)
    delivered = await fake.pay(opened["payment_id"])
    assert delivered is not None and delivered.status_code == 204, delivered and delivered.text
    return store, order, opened["payment_id"]


async def at_wechat(
    client: httpx.AsyncClient, store: Store, fake: FakeWeChatPay, refund_id: str
) -> None:
    """Wait until the submit job has sent the refund and WeChat Pay's answer is recorded."""

    async def acknowledged() -> bool:
        seen = await merchant_refund(client, store.merchant, refund_id)
        return refund_id in fake.refunds and bool(seen["provider_refund_id"])

    await eventually(acknowledged, what=f"refund {refund_id} at WeChat Pay")


def refund_requests(fake: FakeWeChatPay, refund_id: str) -> list[dict[str, Any]]:
    """The refund API calls WeChat Pay accepted as signed by the store for this refund."""
    bodies = []
    for request in fake.requests:
        if request.method == "POST" and request.url == REFUNDS_API and request.mchid:
            body: dict[str, Any] = msgspec.json.decode(request.body)
            if body["out_refund_no"] == refund_id:
                bodies.append(body)
    return bodies


async def test_partial_then_full_refund_through_wechat_pay(
    client: httpx.AsyncClient,
    rt: Runtime,
    fake_wechat: FakeWeChat,
    fake_wechatpay: FakeWeChatPay,
    worker: None,
) -> None:
    fake = fake_wechatpay
    store, order, out_trade_no = await paid_store_order(client, fake_wechat, fake)
    merchant = store.merchant
    assert await stock_of(rt, merchant, store.sku_id) == 18
    line = order["lines"][0]["id"]
    share = order["payable"] - order["shipping_fee"]  # the echo yuan off is the line's too

    part = await refund_directly(
        client, merchant, order["id"], {**REASON, "lines": [{"line_id": line, "quantity": 1}]}
    )
    assert part.status_code == 201, part.text
    part_id = part.json()["id"]
    assert part.json()["amount"] == share // 2
    await at_wechat(client, store, fake, part_id)
    (sent,) = refund_requests(fake, part_id)
    assert sent["out_trade_no"] == out_trade_no
    assert sent["amount"] == {"refund": share // 2, "total": order["payable"], "currency": "CNY"}
    assert sent["notify_url"] == f"{rt.settings.public_url}/webhooks/{merchant.slug}/wechatpay"
    assert (await merchant_refund(client, merchant, part_id))["status"] == "processing"

    done = await fake.complete_refund(part_id)
    assert done is not None and done.status_code == 204, done and done.text
    seen = await merchant_refund(client, merchant, part_id)
    assert seen["status"] == "succeeded" and seen["provider_status"] == "SUCCESS"
    assert seen["provider_refund_id"] == fake.refunds[part_id].refund_id
    row = await order_row(rt, merchant, order["id"])
    assert row.status == "paid" and row.refunded_amount == share // 2
    assert await stock_of(rt, merchant, store.sku_id) == 19
    # WeChat sends the same notification again: acknowledged, nothing happens twice.
    repeat = fake.deliveries[-1]
    again = await fake.deliver(repeat.url, repeat.headers, repeat.body)
    assert again.status_code == 204, again.text
    assert (await order_row(rt, merchant, order["id"])).refunded_amount == share // 2
    assert hook_events("refund_succeeded", merchant.id) == [(part_id, order["id"])]

    # The rest: WeChat Pay settles it but its notification is lost; the reconcile job asks.
    rest = await refund_directly(client, merchant, order["id"], REASON)
    assert rest.status_code == 201, rest.text
    rest_id = rest.json()["id"]
    assert rest.json()["amount"] == order["payable"] - share // 2
    await at_wechat(client, store, fake, rest_id)
    assert await fake.complete_refund(rest_id, notify=False) is None
    assert (await merchant_refund(client, merchant, rest_id))["status"] == "processing"
    async with rt.db.tenant_session(merchant.id) as session:
        old = utcnow() - timedelta(minutes=5)
        await session.execute(
            update(Refund)
            .where(Refund.id == rest_id)
            .values(created_at=old, decided_at=old, checked_at=None)
        )
    await reconcile(rt)
    await settled(client, rt, merchant, rest_id, "succeeded")
    row = await order_row(rt, merchant, order["id"])
    assert row.status == "refunded" and row.refunded_amount == row.paid_amount
    assert fake.trade(out_trade_no)[0].refunded(out_trade_no) == order["payable"]
    assert await stock_of(rt, merchant, store.sku_id) == 20
    assert hook_events("refund_succeeded", merchant.id) == [
        (part_id, order["id"]),
        (rest_id, order["id"]),
    ]
    assert hook_events("order_refunded", merchant.id) == [order["id"]]
    assert len(refund_requests(fake, rest_id)) == 1  # asked about, never sent twice


async def refused_while_abnormal(
    client: httpx.AsyncClient, rt: Runtime, store: Store, order: dict[str, Any]
) -> None:
    """WeChat Pay still counts an ABNORMAL refund's money as refunded, so a new refund is
    refused (NOT_ENOUGH): it stays processing and shows why, until someone finishes the
    ABNORMAL one on the merchant platform (here: WeChat's final word, applied directly)."""
    merchant = store.merchant
    again = await refund_directly(client, merchant, order["id"], REASON)
    assert again.status_code == 201, again.text
    again_id = again.json()["id"]

    async def refused() -> bool:
        seen = await merchant_refund(client, merchant, again_id)
        return bool(seen["provider_status"] == "error: NOT_ENOUGH")

    await eventually(refused, what="WeChat Pay's refusal shown on the refund")
    seen = await merchant_refund(client, merchant, again_id)
    assert seen["status"] == "processing" and seen["provider_refund_id"] == ""
    tenant = await rt.tenants.resolve(merchant.slug)
    closed = RefundResult(out_refund_no=again_id, state="failed", provider_state="CLOSED")
    assert await apply_refund_result(rt, tenant, closed, actor="test:cleanup") is True


async def test_refunds_wechat_pay_gives_up_on_release_their_hold(
    client: httpx.AsyncClient,
    rt: Runtime,
    fake_wechat: FakeWeChat,
    fake_wechatpay: FakeWeChatPay,
    worker: None,
) -> None:
    """ABNORMAL (the money could not reach the buyer) and CLOSED both fail the refund and
    give its hold back; after a CLOSED one the merchant refunds again."""
    fake = fake_wechatpay
    for status in ("ABNORMAL", "CLOSED"):
        store, order, out_trade_no = await paid_store_order(client, fake_wechat, fake)
        merchant = store.merchant
        asked = await ask_refund(client, merchant, store.buyer, order["id"], REASON)
        assert asked.status_code == 201, asked.text
        refund_id = asked.json()["id"]
        approved = await client.post(
            f"{merchant.merchant}/refunds/{refund_id}/approve", headers=merchant.auth
        )
        assert approved.status_code == 200, approved.text
        await at_wechat(client, store, fake, refund_id)

        failed = await fake.complete_refund(refund_id, status=status)
        assert failed is not None and failed.status_code == 204, failed and failed.text
        seen = await merchant_refund(client, merchant, refund_id)
        assert seen["status"] == "failed" and seen["provider_status"] == status
        row = await order_row(rt, merchant, order["id"])
        assert row.status == "paid" and row.refund_held == 0 and row.refunded_amount == 0
        assert hook_events("refund_succeeded", merchant.id) == []
        if status == "ABNORMAL":
            await refused_while_abnormal(client, rt, store, order)

    # After the CLOSED one WeChat Pay has the money again: a new refund, a new out_refund_no.
    fake.auto_complete_refunds = True
    try:
        again = await refund_directly(client, merchant, order["id"], REASON)
        assert again.status_code == 201, again.text
        again_id = again.json()["id"]
        assert again_id != refund_id and again.json()["amount"] == order["payable"]
        await settled(client, rt, merchant, again_id, "succeeded")
    finally:
        fake.auto_complete_refunds = False
    await fake.drain()
    row = await order_row(rt, merchant, order["id"])
    assert row.status == "refunded" and row.refunded_amount == order["payable"]
    assert fake.trade(out_trade_no)[0].refunded(out_trade_no) == order["payable"]
    assert hook_events("refund_succeeded", merchant.id) == [(again_id, order["id"])]
    assert hook_events("order_refunded", merchant.id) == [order["id"]]
