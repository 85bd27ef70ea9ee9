"""core.wechatpay: the WeChat Pay API v3 client against the fake WeChat Pay server (real HTTP,
real crypto, keys made in this run). No database: these tests never take ``client``/``rt``."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from core.db import utcnow
from core.payments.providers import PaymentRequest, ProviderError, RefundRequest
from core.wechatpay import WeChatPayClient, WeChatPayConfig, WeChatPayError, client_params
from storeplug.testing import free_port
from storeplug.testing.fakes.wechatpay import FakeMerchant, FakeWeChatPay
from storeplug.testing.fakes.wechatpay_state import (
    new_rsa_key,
    private_pem,
    random_text,
    rsa_verify,
)

AUTH = re.compile(
    r'WECHATPAY2-SHA256-RSA2048 mchid="(?P<mchid>\d+)",nonce_str="(?P<nonce>[A-Z0-9]{32})",'
    r'signature="(?P<signature>[A-Za-z0-9+/=]+)",timestamp="(?P<timestamp>\d+)",'
    r'serial_no="(?P<serial>[0-9A-F]+)"'
)


@pytest.fixture
def merchant(fake_wechatpay: FakeWeChatPay) -> FakeMerchant:
    return fake_wechatpay.register_merchant()


def config_of(merchant: FakeMerchant, **changes: str) -> WeChatPayConfig:
    return msgspec.convert({**merchant.config(), **changes}, WeChatPayConfig)


@pytest.fixture
async def wxpay(
    fake_wechatpay: FakeWeChatPay, merchant: FakeMerchant
) -> AsyncIterator[WeChatPayClient]:
    async with WeChatPayClient(fake_wechatpay.url, config_of(merchant)) as client:
        yield client


def payment(out_trade_no: str | None = None, amount: int = 100, **changes: Any) -> PaymentRequest:
    fields: dict[str, Any] = {
        "out_trade_no": out_trade_no or random_text(26),
        "amount": amount,
        "description": "测试小店 订单",
        "payer_openid": "o" + random_text(27),
        "expires_at": utcnow() + timedelta(minutes=30),
        "notify_url": "http://127.0.0.1:9/webhooks/shop/wechatpay",
    }
    return PaymentRequest(**(fields | changes))


def refund_of(out_trade_no: str, amount: int, total: int = 100, **changes: Any) -> RefundRequest:
    fields: dict[str, Any] = {
        "out_trade_no": out_trade_no,
        "out_refund_no": random_text(26),
        "amount": amount,
        "total": total,
        "reason": "不想要了",
        "notify_url": "http://127.0.0.1:9/webhooks/shop/wechatpay",
    }
    return RefundRequest(**(fields | changes))


# ---- signing our requests -----------------------------------------------------------------


async def test_requests_carry_wechats_authorization_and_headers(
    fake_wechatpay: FakeWeChatPay, merchant: FakeMerchant, wxpay: WeChatPayClient
) -> None:
    # An out_trade_no WeChat allows but a URL must encode: the signature covers the raw URL.
    out_trade_no = "ab-c_d|e*f0123"
    await wxpay.jsapi_prepay(payment(out_trade_no))
    await wxpay.query_trade(out_trade_no)
    post, query = fake_wechatpay.requests[-2:]
    assert post.mchid == query.mchid == merchant.mchid  # both authenticated by the fake
    assert (
        query.url == f"/v3/pay/transactions/out-trade-no/ab-c_d%7Ce%2Af0123?mchid={merchant.mchid}"
    )
    for recorded, method in ((post, "POST"), (query, "GET")):
        match = AUTH.fullmatch(recorded.headers["authorization"])
        assert match is not None, recorded.headers["authorization"]
        assert match["mchid"] == merchant.mchid and match["serial"] == merchant.serial_no
        assert abs(int(match["timestamp"]) - time.time()) < 60
        assert rsa_verify(
            merchant.private_key.public_key(),
            match["signature"],
            method,
            recorded.url,
            match["timestamp"],
            match["nonce"],
            recorded.body,
        )
        assert recorded.headers["accept"] == "application/json"
        assert recorded.headers["content-type"] == "application/json"
        assert recorded.headers["user-agent"].startswith("storeplug/")
        assert recorded.headers["wechatpay-serial"] == merchant.platform_key_id
    assert query.body == b""  # BODY is empty for a GET, and the signature says so
    assert post.headers["authorization"] != query.headers["authorization"]  # fresh nonce


async def test_a_request_signed_with_another_key_is_refused(
    fake_wechatpay: FakeWeChatPay, merchant: FakeMerchant
) -> None:
    other_key = private_pem(new_rsa_key())
    for changes in ({"merchant_private_key": other_key}, {"merchant_serial_no": "ABCDEF"}):
        async with WeChatPayClient(fake_wechatpay.url, config_of(merchant, **changes)) as wx:
            with pytest.raises(ProviderError) as caught:
                await wx.jsapi_prepay(payment())
        error = caught.value
        assert isinstance(error, WeChatPayError)
        assert (error.status, error.code) == (502, "payment.provider_error")
        assert (error.wechat_code, error.http_status) == ("SIGN_ERROR", 401)
        assert "SIGN_ERROR" in error.detail
    assert merchant.trades == {}


async def test_network_errors_and_timeouts_are_provider_errors(merchant: FakeMerchant) -> None:
    async with WeChatPayClient(f"http://127.0.0.1:{free_port()}", config_of(merchant)) as wx:
        with pytest.raises(WeChatPayError, match="unreachable"):
            await wx.query_trade("a" * 26)

    def too_slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    transport = httpx.MockTransport(too_slow)
    async with WeChatPayClient("http://wechat", config_of(merchant), transport=transport) as wx:
        with pytest.raises(WeChatPayError, match="did not answer in time"):
            await wx.query_trade("a" * 26)


# ---- prepay and the mini-program's pay sheet ----------------------------------------------


async def test_prepay_opens_a_trade_with_wechats_body(
    fake_wechatpay: FakeWeChatPay, merchant: FakeMerchant, wxpay: WeChatPayClient
) -> None:
    expires = datetime(2099, 11, 22, 2, 34, 56, tzinfo=UTC)
    request = payment(amount=1999, expires_at=expires, description="店" * 60)  # 180 bytes
    before = utcnow()
    prepay = await wxpay.jsapi_prepay(request)
    sent = msgspec.json.decode(fake_wechatpay.requests[-1].body)
    assert fake_wechatpay.requests[-1].url == "/v3/pay/transactions/jsapi"
    assert sent == {
        "appid": merchant.appid,
        "mchid": merchant.mchid,
        "description": "店" * 42,  # clipped to 127 bytes on a character boundary
        "out_trade_no": request.out_trade_no,
        "time_expire": "2099-11-22T10:34:56+08:00",
        "notify_url": request.notify_url,
        "amount": {"total": 1999, "currency": "CNY"},
        "payer": {"openid": request.payer_openid},
    }
    trade = fake_wechatpay.trades[request.out_trade_no]
    assert prepay.reference == trade.prepay_id and prepay.reference.startswith("wx")
    assert prepay.settled is None
    assert prepay.expires_at is not None
    assert before + timedelta(hours=2) <= prepay.expires_at <= utcnow() + timedelta(hours=2)
    # Asking again answers the same prepay_id; another amount for the same trade is refused.
    assert (await wxpay.jsapi_prepay(request)).reference == prepay.reference
    with pytest.raises(WeChatPayError) as caught:
        await wxpay.jsapi_prepay(payment(request.out_trade_no, amount=2000))
    assert caught.value.wechat_code == "INVALID_REQUEST"


async def test_prepay_expires_with_the_order_when_that_is_sooner(
    wxpay: WeChatPayClient,
) -> None:
    deadline = utcnow() + timedelta(minutes=15)
    prepay = await wxpay.jsapi_prepay(payment(expires_at=deadline))
    assert prepay.expires_at == deadline


async def test_client_params_are_signed_for_wx_request_payment(
    merchant: FakeMerchant, wxpay: WeChatPayClient
) -> None:
    prepay = await wxpay.jsapi_prepay(payment())
    params = client_params(config_of(merchant), prepay.reference)
    assert set(params) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert abs(int(params["timeStamp"]) - time.time()) < 60
    assert len(params["nonceStr"]) == 32 and params["nonceStr"].isalnum()
    assert params["package"] == f"prepay_id={prepay.reference}"
    assert params["signType"] == "RSA"
    public_key = serialization.load_pem_public_key(merchant.public_key_pem.encode())
    assert isinstance(public_key, rsa.RSAPublicKey)
    signed = f"{merchant.appid}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    public_key.verify(  # raises InvalidSignature unless paySign is right
        base64.b64decode(params["paySign"]), signed.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert client_params(config_of(merchant), prepay.reference)["nonceStr"] != params["nonceStr"]


# ---- query, close --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trade_state", "state"),
    [
        ("NOTPAY", "pending"),
        ("USERPAYING", "pending"),
        ("CLOSED", "closed"),
        ("REVOKED", "closed"),
        ("PAYERROR", "closed"),
    ],
)
async def test_query_maps_unpaid_trade_states(
    fake_wechatpay: FakeWeChatPay, wxpay: WeChatPayClient, trade_state: str, state: str
) -> None:
    request = payment()
    await wxpay.jsapi_prepay(request)
    fake_wechatpay.trades[request.out_trade_no].state = trade_state
    result = await wxpay.query_trade(request.out_trade_no)
    assert (result.state, result.provider_state) == (state, trade_state)
    assert (result.amount, result.transaction_id, result.paid_at) == (None, "", None)


async def test_query_maps_a_paid_then_refunded_trade(
    fake_wechatpay: FakeWeChatPay, merchant: FakeMerchant, wxpay: WeChatPayClient
) -> None:
    request = payment(amount=2500)
    await wxpay.jsapi_prepay(request)
    assert await fake_wechatpay.pay(request.out_trade_no, notify=False) is None
    trade = fake_wechatpay.trades[request.out_trade_no]
    for trade_state in ("SUCCESS", "REFUND"):
        trade.state = trade_state
        result = await wxpay.query_trade(request.out_trade_no)
        assert result.state == "succeeded" and result.provider_state == trade_state
        assert result.amount == 2500
        assert result.transaction_id == trade.transaction_id != ""
        assert result.paid_at is not None and abs(result.paid_at - utcnow()) < timedelta(minutes=1)
        assert result.paid_at.tzinfo is not None and result.paid_at.utcoffset() == timedelta(0)
        assert (result.merchant_id, result.app_id) == (merchant.mchid, merchant.appid)


async def test_query_of_an_unknown_trade_is_pending(wxpay: WeChatPayClient) -> None:
    result = await wxpay.query_trade("never-opened-01")
    assert (result.state, result.provider_state) == ("pending", "ORDER_NOT_EXIST")


async def test_query_refuses_a_state_it_does_not_know(
    fake_wechatpay: FakeWeChatPay, wxpay: WeChatPayClient
) -> None:
    request = payment()
    await wxpay.jsapi_prepay(request)
    fake_wechatpay.trades[request.out_trade_no].state = "SOMETHING_NEW"
    with pytest.raises(WeChatPayError, match="not understood"):
        await wxpay.query_trade(request.out_trade_no)


async def test_close_stops_a_trade_from_being_paid(
    fake_wechatpay: FakeWeChatPay, wxpay: WeChatPayClient
) -> None:
    request = payment()
    await wxpay.jsapi_prepay(request)
    await wxpay.close_trade(request.out_trade_no)
    assert fake_wechatpay.requests[-1].body == msgspec.json.encode({"mchid": wxpay.config.mchid})
    assert (await wxpay.query_trade(request.out_trade_no)).state == "closed"
    with pytest.raises(AssertionError, match="cannot be paid"):
        await fake_wechatpay.pay(request.out_trade_no, notify=False)
    with pytest.raises(WeChatPayError) as caught:
        await wxpay.jsapi_prepay(request)
    assert caught.value.wechat_code == "ORDER_CLOSED"
    await wxpay.close_trade(request.out_trade_no)  # closing twice is fine

    paid = payment()
    await wxpay.jsapi_prepay(paid)
    await fake_wechatpay.pay(paid.out_trade_no, notify=False)
    with pytest.raises(WeChatPayError) as caught:
        await wxpay.close_trade(paid.out_trade_no)
    assert caught.value.wechat_code == "ORDERPAID"


# ---- refunds -------------------------------------------------------------------------------


async def test_refund_query_and_idempotent_repeat(
    fake_wechatpay: FakeWeChatPay, wxpay: WeChatPayClient
) -> None:
    request = payment(amount=100)
    await wxpay.jsapi_prepay(request)
    await fake_wechatpay.pay(request.out_trade_no, notify=False)
    asked = refund_of(request.out_trade_no, 30)
    first = await wxpay.refund(asked)
    sent = msgspec.json.decode(fake_wechatpay.requests[-1].body)
    assert sent == {
        "out_trade_no": request.out_trade_no,
        "out_refund_no": asked.out_refund_no,
        "reason": "不想要了",
        "notify_url": asked.notify_url,
        "amount": {"refund": 30, "total": 100, "currency": "CNY"},
    }
    assert (first.state, first.provider_state, first.amount) == ("processing", "PROCESSING", 30)
    assert first.out_refund_no == asked.out_refund_no
    assert first.provider_refund_id == fake_wechatpay.refunds[asked.out_refund_no].refund_id
    assert await wxpay.refund(asked) == first  # WeChat deduplicates on out_refund_no
    assert (
        len([r for r in fake_wechatpay.refunds.values() if r.out_trade_no == asked.out_trade_no])
        == 1
    )
    assert await wxpay.query_refund(asked.out_refund_no) == first

    assert await fake_wechatpay.complete_refund(asked.out_refund_no, notify=False) is None
    done = await wxpay.query_refund(asked.out_refund_no)
    assert (done.state, done.provider_state, done.amount) == ("succeeded", "SUCCESS", 30)
    assert (await wxpay.query_trade(request.out_trade_no)).state == "succeeded"  # REFUND

    with pytest.raises(WeChatPayError) as caught:
        await wxpay.refund(refund_of(request.out_trade_no, 71))  # 70 fen are left
    assert caught.value.wechat_code == "NOT_ENOUGH"
    rest = await wxpay.refund(refund_of(request.out_trade_no, 70))
    assert rest.state == "processing"
    with pytest.raises(WeChatPayError) as caught:
        await wxpay.query_refund("no-such-refund")
    assert caught.value.wechat_code == "RESOURCE_NOT_EXISTS"


@pytest.mark.parametrize("status", ["ABNORMAL", "CLOSED"])
async def test_a_failed_refund_maps_to_failed(
    fake_wechatpay: FakeWeChatPay, wxpay: WeChatPayClient, status: str
) -> None:
    request = payment()
    await wxpay.jsapi_prepay(request)
    await fake_wechatpay.pay(request.out_trade_no, notify=False)
    asked = refund_of(request.out_trade_no, 100)
    await wxpay.refund(asked)
    await fake_wechatpay.complete_refund(asked.out_refund_no, notify=False, status=status)
    result = await wxpay.query_refund(asked.out_refund_no)
    assert (result.state, result.provider_state) == ("failed", status)


async def test_auto_completed_refunds_succeed_at_once(
    fake_wechatpay: FakeWeChatPay, wxpay: WeChatPayClient
) -> None:
    request = payment()
    await wxpay.jsapi_prepay(request)
    await fake_wechatpay.pay(request.out_trade_no, notify=False)
    fake_wechatpay.auto_complete_refunds = True
    try:
        result = await wxpay.refund(refund_of(request.out_trade_no, 100))
    finally:
        fake_wechatpay.auto_complete_refunds = False
    assert (result.state, result.provider_state) == ("succeeded", "SUCCESS")
    await fake_wechatpay.drain()  # its notification went to a closed port: recorded, no crash
    assert fake_wechatpay.deliveries[-1].response is None


async def test_a_refund_of_an_unpaid_trade_is_refused(wxpay: WeChatPayClient) -> None:
    request = payment()
    await wxpay.jsapi_prepay(request)
    with pytest.raises(WeChatPayError) as caught:
        await wxpay.refund(refund_of(request.out_trade_no, 10))
    assert caught.value.wechat_code == "INVALID_REQUEST"
