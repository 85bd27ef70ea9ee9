"""WeChat's signatures on answers and notifications, and ``parse_notification``: genuine ones
are read, forged, stale, re-encrypted and foreign ones refused. Notifications travel over
real HTTP from the fake WeChat Pay to a small receiver that does what the webhook does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import msgspec
import pytest
import uvicorn
from litestar import Litestar, Request, Response, post
from litestar.params import PathParameter

from core.db import utcnow
from core.payments.providers import (
    Account,
    Notification,
    NotificationRefused,
    PaymentRequest,
    RefundRequest,
)
from core.payments.wechatpay_provider import WeChatPayProvider
from core.wechatpay import WeChatPayClient, WeChatPayConfig, WeChatPayError, verify_response
from core.wechatpay_notify import parse_notification
from storeplug.testing.fakes.wechatpay import FakeMerchant, FakeWeChatPay
from storeplug.testing.fakes.wechatpay_state import (
    json_bytes,
    new_rsa_key,
    platform_certificate,
    random_text,
    wechat_headers,
)

PROVIDER = WeChatPayProvider()


def config_of(merchant: FakeMerchant, **changes: str) -> WeChatPayConfig:
    return msgspec.convert({**merchant.config(), **changes}, WeChatPayConfig)


@dataclass
class Receiver:
    """Answers notifications like the webhook: 204 when ``parse_notification`` accepts, 401
    with WeChat's FAIL body when it refuses."""

    url: str = ""
    configs: dict[str, WeChatPayConfig] = field(default_factory=dict)
    received: list[Notification] = field(default_factory=list)

    def notify_url(self, merchant: FakeMerchant) -> str:
        self.configs[merchant.mchid] = config_of(merchant)
        return f"{self.url}/notify/{merchant.mchid}"

    def app(self) -> Litestar:
        @post("/notify/{mchid:str}", status_code=200)  # the Response sets 204 / 401
        async def notify(
            request: Request[Any, Any, Any], mchid: Annotated[str, PathParameter()]
        ) -> Response[bytes]:
            account = Account(
                tenant_id="t", tenant_slug="shop", provider="wechatpay", config=self.configs[mchid]
            )
            try:
                found = PROVIDER.parse_notification(account, request.headers, await request.body())
            except NotificationRefused as exc:
                body = json_bytes({"code": "FAIL", "message": exc.detail})
                return Response(body, status_code=401, media_type="application/json")
            self.received.append(found)
            return Response(b"", status_code=204)

        return Litestar([notify], openapi_config=None)


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    server = uvicorn.Server(
        uvicorn.Config(found.app(), host="127.0.0.1", port=0, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    found.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    yield found
    server.should_exit = True
    await task


@pytest.fixture
def merchant(fake_wechatpay: FakeWeChatPay) -> FakeMerchant:
    return fake_wechatpay.register_merchant()


async def open_trade(
    fake: FakeWeChatPay, merchant: FakeMerchant, notify_url: str, amount: int = 880
) -> str:
    out_trade_no = random_text(26)
    async with WeChatPayClient(fake.url, config_of(merchant)) as wx:
        await wx.jsapi_prepay(
            PaymentRequest(
                out_trade_no=out_trade_no,
                amount=amount,
                description="order",
                payer_openid="o" + random_text(27),
                expires_at=utcnow() + timedelta(minutes=30),
                notify_url=notify_url,
            )
        )
    return out_trade_no


# ---- answers -------------------------------------------------------------------------------


def test_answers_must_carry_a_valid_signature(merchant: FakeMerchant) -> None:
    config = config_of(merchant)
    body = b'{"prepay_id":"wx201410272009395522657a690389285100"}'
    key, key_id = merchant.platform_key, merchant.platform_key_id
    verify_response(config, wechat_headers(key, key_id, body), body)  # genuine
    now = int(time.time())
    refused: list[tuple[dict[str, str], bytes]] = [
        (wechat_headers(key, key_id, body), body.replace(b"wx2014", b"wx2015")),  # tampered
        (wechat_headers(new_rsa_key(), key_id, body), body),  # another key
        (wechat_headers(key, "PUB_KEY_ID_0000000000", body), body),  # another key id
        (wechat_headers(key, key_id, body, timestamp=now - 310), body),  # stale
        (wechat_headers(key, key_id, body, timestamp=now + 310), body),  # from the future
        ({}, body),  # unsigned
    ]
    for headers, sent in refused:
        with pytest.raises(WeChatPayError, match="not authentic"):
            verify_response(config, headers, sent)
    # The clock is injectable: an answer signed an hour ago verifies against that hour.
    old = wechat_headers(key, key_id, body, timestamp=now - 3600)
    verify_response(config, old, body, now=datetime.fromtimestamp(now - 3600, UTC))


class Tampering(httpx.AsyncBaseTransport):
    """A man in the middle who turns an unpaid trade into a paid one."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = (await response.aread()).replace(b'"NOTPAY"', b'"SUCCESS"')
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=body)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_tampered_answer_is_refused(
    fake_wechatpay: FakeWeChatPay, merchant: FakeMerchant
) -> None:
    out_trade_no = await open_trade(fake_wechatpay, merchant, "http://127.0.0.1:9/n")
    config = config_of(merchant)
    async with WeChatPayClient(fake_wechatpay.url, config, transport=Tampering()) as wx:
        with pytest.raises(WeChatPayError, match="not authentic"):
            await wx.query_trade(out_trade_no)
    async with WeChatPayClient(fake_wechatpay.url, config) as wx:
        assert (await wx.query_trade(out_trade_no)).state == "pending"


# ---- genuine notifications -------------------------------------------------------------------


async def test_a_payment_notification_is_read(
    fake_wechatpay: FakeWeChatPay, merchant: FakeMerchant, receiver: Receiver
) -> None:
    out_trade_no = await open_trade(fake_wechatpay, merchant, receiver.notify_url(merchant))
    response = await fake_wechatpay.pay(out_trade_no)
    assert response is not None and response.status_code == 204, response and response.text
    delivered = fake_wechatpay.deliveries[-1]
    assert delivered.headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    envelope = msgspec.json.decode(delivered.body)
    assert envelope["event_type"] == "TRANSACTION.SUCCESS"
    assert envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    found = receiver.received[-1]
    assert found.event_id == envelope["id"] and found.refund is None
    trade = fake_wechatpay.trades[out_trade_no]
    assert found.payment is not None
    assert found.payment.out_trade_no == out_trade_no
    assert (found.payment.state, found.payment.provider_state) == ("succeeded", "SUCCESS")
    assert found.payment.amount == 880
    assert found.payment.transaction_id == trade.transaction_id
    assert found.payment.paid_at is not None
    assert abs(found.payment.paid_at - utcnow()) < timedelta(minutes=1)
    assert (found.payment.merchant_id, found.payment.app_id) == (merchant.mchid, merchant.appid)
    assert found.payment.payer_openid == trade.openid != ""


@pytest.mark.parametrize(("status", "state"), [("SUCCESS", "succeeded"), ("ABNORMAL", "failed")])
async def test_a_refund_notification_is_read(
    fake_wechatpay: FakeWeChatPay,
    merchant: FakeMerchant,
    receiver: Receiver,
    status: str,
    state: str,
) -> None:
    notify_url = receiver.notify_url(merchant)
    out_trade_no = await open_trade(fake_wechatpay, merchant, notify_url)
    await fake_wechatpay.pay(out_trade_no, notify=False)
    out_refund_no = random_text(26)
    async with WeChatPayClient(fake_wechatpay.url, config_of(merchant)) as wx:
        await wx.refund(
            RefundRequest(
                out_trade_no=out_trade_no,
                out_refund_no=out_refund_no,
                amount=300,
                total=880,
                reason="",
                notify_url=notify_url,
            )
        )
    response = await fake_wechatpay.complete_refund(out_refund_no, status=status)
    assert response is not None and response.status_code == 204, response and response.text
    found = receiver.received[-1].refund
    assert found is not None and receiver.received[-1].payment is None
    assert (found.out_refund_no, found.state, found.provider_state) == (
        out_refund_no,
        state,
        status,
    )
    assert found.amount == 300
    assert found.provider_refund_id == fake_wechatpay.refunds[out_refund_no].refund_id


def test_a_platform_certificate_works_like_a_public_key(
    fake_wechatpay: FakeWeChatPay, merchant: FakeMerchant
) -> None:
    pem, serial = platform_certificate(merchant.platform_key)
    # Typed in lower case by the merchant; WeChat sends the serial in upper case.
    config = config_of(merchant, platform_public_key=pem, platform_key_id=serial.lower())
    resource = _paid(merchant, amount={"total": 1})
    headers, body = fake_wechatpay.build_notification(
        merchant, "TRANSACTION.SUCCESS", resource, serial=serial
    )
    found = parse_notification(config, headers, body)
    assert found.payment is not None and found.payment.amount == 1


# ---- hostile notifications -------------------------------------------------------------------


def _paid(merchant: FakeMerchant, **changes: Any) -> dict[str, Any]:
    return {
        "mchid": merchant.mchid,
        "appid": merchant.appid,
        "out_trade_no": "T" * 26,
        "transaction_id": "4200000000000000000000000001",
        "trade_state": "SUCCESS",
        "success_time": "2026-11-22T10:34:56+08:00",
        "amount": {"total": 880, "payer_total": 880, "currency": "CNY", "payer_currency": "CNY"},
        "payer": {"openid": "o-buyer"},
    } | changes


Forgery = Callable[[FakeWeChatPay, FakeMerchant], tuple[dict[str, str], bytes]]


def _tampered(fake: FakeWeChatPay, m: FakeMerchant) -> tuple[dict[str, str], bytes]:
    headers, _ = fake.build_notification(m, "TRANSACTION.SUCCESS", _paid(m))
    cheaper = _paid(m, amount={"total": 1, "payer_total": 1, "currency": "CNY"})
    _, body = fake.build_notification(m, "TRANSACTION.SUCCESS", cheaper)
    return headers, body  # re-encrypted with another amount under the old signature


def _other_merchants(fake: FakeWeChatPay, m: FakeMerchant) -> tuple[dict[str, str], bytes]:
    other = fake.register_merchant()
    return fake.build_notification(other, "TRANSACTION.SUCCESS", _paid(other))


def _probe(fake: FakeWeChatPay, m: FakeMerchant) -> tuple[dict[str, str], bytes]:
    headers, body = fake.build_notification(m, "TRANSACTION.SUCCESS", _paid(m))
    return headers | {"Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + random_text(20)}, body


def _unsigned(fake: FakeWeChatPay, m: FakeMerchant) -> tuple[dict[str, str], bytes]:
    headers, body = fake.build_notification(m, "TRANSACTION.SUCCESS", _paid(m))
    return {k: v for k, v in headers.items() if k != "Wechatpay-Signature"}, body


FORGERIES: dict[str, Forgery] = {
    "forged signature": lambda f, m: f.build_notification(
        m, "TRANSACTION.SUCCESS", _paid(m), sign_with=new_rsa_key()
    ),
    "wrong serial": lambda f, m: f.build_notification(
        m, "TRANSACTION.SUCCESS", _paid(m), serial="PUB_KEY_ID_0114000000000000000000000000"
    ),
    "stale by 6 minutes": lambda f, m: f.build_notification(
        m, "TRANSACTION.SUCCESS", _paid(m), timestamp=int(time.time()) - 360
    ),
    "6 minutes in the future": lambda f, m: f.build_notification(
        m, "TRANSACTION.SUCCESS", _paid(m), timestamp=int(time.time()) + 360
    ),
    "wrong APIv3 key": lambda f, m: f.build_notification(
        m, "TRANSACTION.SUCCESS", _paid(m), apiv3_key=random_text(32)
    ),
    "malformed JSON body": lambda f, m: (f.sign_notification(m, b'{"id": "x",'), b'{"id": "x",'),
    "malformed resource": lambda f, m: f.build_notification(m, "TRANSACTION.SUCCESS", b"not json"),
    "another mchid in the resource": lambda f, m: f.build_notification(
        m, "TRANSACTION.SUCCESS", _paid(m, mchid="1900000109")
    ),
    "another appid in the resource": lambda f, m: f.build_notification(
        m, "TRANSACTION.SUCCESS", _paid(m, appid="wx0000000000000000")
    ),
    "another mchid in a refund": lambda f, m: f.build_notification(
        m,
        "REFUND.SUCCESS",
        {"mchid": "1900000109", "out_refund_no": "R" * 26, "refund_status": "SUCCESS"},
    ),
    "unknown event type": lambda f, m: f.build_notification(m, "TRANSACTION.WHATEVER", _paid(m)),
    "re-encrypted with another amount": _tampered,
    "another merchant's notification": _other_merchants,
    "signature probe": _probe,
    "no signature": _unsigned,
}


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
def test_hostile_notifications_are_refused(
    fake_wechatpay: FakeWeChatPay, merchant: FakeMerchant, forgery: Forgery
) -> None:
    headers, body = forgery(fake_wechatpay, merchant)
    with pytest.raises(NotificationRefused) as caught:
        parse_notification(config_of(merchant), headers, body)
    assert (caught.value.status, caught.value.code) == (401, "payment.notification_refused")


def test_a_genuine_one_passes_where_the_forgeries_fail(
    fake_wechatpay: FakeWeChatPay, merchant: FakeMerchant
) -> None:
    headers, body = fake_wechatpay.build_notification(
        merchant, "TRANSACTION.SUCCESS", _paid(merchant)
    )
    found = parse_notification(config_of(merchant), headers, body)
    assert found.payment is not None and found.payment.amount == 880


def test_the_clock_is_injectable(fake_wechatpay: FakeWeChatPay, merchant: FakeMerchant) -> None:
    then = int(time.time()) - 3600
    headers, body = fake_wechatpay.build_notification(
        merchant, "TRANSACTION.SUCCESS", _paid(merchant), timestamp=then
    )
    at_then = datetime.fromtimestamp(then + 299, UTC)
    assert parse_notification(config_of(merchant), headers, body, now=at_then).payment is not None
    with pytest.raises(NotificationRefused, match="5 minutes"):
        parse_notification(config_of(merchant), headers, body)
    with pytest.raises(NotificationRefused, match="5 minutes"):
        parse_notification(config_of(merchant), headers, body, now=at_then + timedelta(seconds=2))


async def test_a_hostile_delivery_is_answered_401(
    fake_wechatpay: FakeWeChatPay, merchant: FakeMerchant, receiver: Receiver
) -> None:
    url = receiver.notify_url(merchant)
    headers, body = _tampered(fake_wechatpay, merchant)
    count = len(receiver.received)
    response = await fake_wechatpay.deliver(url, headers, body)
    assert response.status_code == 401
    assert response.json()["code"] == "FAIL"
    assert len(receiver.received) == count
