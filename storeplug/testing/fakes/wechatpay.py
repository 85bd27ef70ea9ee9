"""A fake WeChat Pay API v3 server for the tests: a real HTTP server on a loopback port that
speaks WeChat Pay's protocol with real crypto, for the JSAPI (mini-program) calls storeplug
makes. It is started once per test session (``fake_wechatpay``, used by
``storeplug.testing``), and every runtime's ``wechatpay_base_url`` points at it.

WeChat Pay's semantics, as the real server has them:

- Every request must carry ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",
  nonce_str="…",signature="…",timestamp="…",serial_no="…"``: a known mchid, its API
  certificate serial, a timestamp within 5 minutes and a SHA256withRSA signature by the
  merchant key over ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n`` (the raw URL as sent);
  otherwise 401 ``SIGN_ERROR``. Every answer is signed with the merchant's platform key
  (``Wechatpay-Timestamp/-Nonce/-Signature/-Serial``), errors included; errors are
  ``{"code", "message"}``.
- ``POST /v3/pay/transactions/jsapi`` → ``{prepay_id}`` (the same one for a repeat within two
  hours); 400 ``PARAM_ERROR`` for a malformed body, ``APPID_MCHID_NOT_MATCH``,
  ``INVALID_REQUEST`` for a known out_trade_no with another amount, ``ORDERPAID`` /
  ``ORDER_CLOSED`` for a paid / closed one.
- ``GET /v3/pay/transactions/out-trade-no/{no}?mchid=`` → the trade; 404 ``ORDER_NOT_EXIST``.
- ``POST /v3/pay/transactions/out-trade-no/{no}/close`` ``{mchid}`` → 204; 400 ``ORDERPAID``.
- ``POST /v3/refund/domestic/refunds`` → the refund, PROCESSING (the same one for a repeated
  out_refund_no; 400 ``INVALID_REQUEST`` if its amounts differ); 400 ``NOT_ENOUGH`` past the
  refundable rest; 404 ``RESOURCE_NOT_EXISTS`` for an unknown trade. ``GET
  /v3/refund/domestic/refunds/{no}`` → the refund.

How a test uses it (each test registers its own merchant, so tests never share state)::

    from storeplug.testing.fakes.wechatpay import FakeWeChatPay

    async def test_x(fake_wechatpay: FakeWeChatPay) -> None:
        merchant = fake_wechatpay.register_merchant()  # keys made in this run
        merchant.config()  # what the store owner PUTs to /payments/accounts/wechatpay
        ...  # the app asks for a prepay
        response = await fake_wechatpay.pay(out_trade_no)  # buyer pays; notification sent
        assert response is not None and response.status_code in (200, 204)

``pay(…, notify=False)`` loses the notification, ``complete_refund(out_refund_no,
status="SUCCESS" | "ABNORMAL" | "CLOSED")`` settles a refund, ``auto_complete_refunds = True``
settles every new refund at once (its notification follows in the background, answers in
``deliveries``). For hostile tests, ``build_notification`` forges, backdates, re-encrypts or
signs with another key, and ``deliver`` posts it. ``requests`` records every call;
``trades`` and ``refunds`` show WeChat's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar import Litestar, Request

from storeplug.testing.fakes.wechatpay_routes import routes
from storeplug.testing.fakes.wechatpay_state import (
    EVENT_SUMMARIES,
    SCHEME,
    FakeMerchant,
    FakeRefund,
    FakeTrade,
    china_time,
    encrypt_resource,
    json_bytes,
    random_digits,
    rsa_verify,
    wechat_headers,
)

__all__ = ["FakeMerchant", "FakeRefund", "FakeTrade", "FakeWeChatPay"]

MAX_SKEW_S = 300
_AUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class RecordedRequest:
    method: str
    url: str  # the raw path and query, as signed
    headers: dict[str, str]  # lower-case names
    body: bytes
    mchid: str = ""  # the merchant it authenticated as ("" when refused)


@dataclass
class Delivery:
    url: str
    headers: dict[str, str]
    body: bytes
    response: httpx.Response | None  # None: the app could not be reached


class FakeWeChatPay:
    def __init__(self) -> None:
        self.url = ""
        self.merchants: dict[str, FakeMerchant] = {}
        self.requests: list[RecordedRequest] = []
        self.deliveries: list[Delivery] = []
        self.auto_complete_refunds = False
        self.notify_delay_s = 0.1  # before an automatic refund's notification goes out
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- state ------------------------------------------------------------------------

    def register_merchant(self) -> FakeMerchant:
        merchant = FakeMerchant.generate()
        self.merchants[merchant.mchid] = merchant
        return merchant

    @property
    def trades(self) -> dict[str, FakeTrade]:
        return {no: t for m in self.merchants.values() for no, t in m.trades.items()}

    @property
    def refunds(self) -> dict[str, FakeRefund]:
        return {no: r for m in self.merchants.values() for no, r in m.refunds.items()}

    def trade(self, out_trade_no: str) -> tuple[FakeMerchant, FakeTrade]:
        for merchant in self.merchants.values():
            if out_trade_no in merchant.trades:
                return merchant, merchant.trades[out_trade_no]
        raise KeyError(f"no trade {out_trade_no!r} at the fake WeChat Pay")

    def refund(self, out_refund_no: str) -> tuple[FakeMerchant, FakeRefund]:
        for merchant in self.merchants.values():
            if out_refund_no in merchant.refunds:
                return merchant, merchant.refunds[out_refund_no]
        raise KeyError(f"no refund {out_refund_no!r} at the fake WeChat Pay")

    # ---- what buyers and WeChat do ----------------------------------------------------

    async def pay(
        self, out_trade_no: str, *, notify: bool = True, openid: str | None = None
    ) -> httpx.Response | None:
        """The buyer pays in the mini-program: the trade succeeds and, unless ``notify`` is
        False (a lost notification), WeChat notifies its notify_url; returns that answer."""
        merchant, trade = self.trade(out_trade_no)
        if trade.state not in ("NOTPAY", "USERPAYING"):
            raise AssertionError(f"trade {out_trade_no} is {trade.state}; it cannot be paid")
        if trade.time_expire.timestamp() < time.time():
            raise AssertionError(f"trade {out_trade_no} expired at {trade.time_expire}")
        trade.state = "SUCCESS"
        trade.transaction_id = "4200" + random_digits(24)
        trade.success_time = china_time()
        if openid is not None:
            trade.openid = openid
        if not notify:
            return None
        headers, body = self.build_notification(merchant, "TRANSACTION.SUCCESS", trade.answer())
        return await self.deliver(trade.notify_url, headers, body)

    async def complete_refund(
        self, out_refund_no: str, *, notify: bool = True, status: str = "SUCCESS"
    ) -> httpx.Response | None:
        """WeChat settles a refund (SUCCESS, ABNORMAL or CLOSED) and notifies its
        notify_url unless ``notify`` is False; returns that answer."""
        merchant, refund = self.refund(out_refund_no)
        self.settle_refund(merchant, refund, status)
        if not notify:
            return None
        headers, body = self.build_notification(merchant, f"REFUND.{status}", refund.resource())
        return await self.deliver(refund.notify_url, headers, body)

    def settle_refund(self, merchant: FakeMerchant, refund: FakeRefund, status: str) -> None:
        if status not in ("SUCCESS", "ABNORMAL", "CLOSED"):
            raise ValueError(f"a refund cannot settle as {status!r}")
        refund.status = status
        if status == "SUCCESS":
            refund.success_time = china_time()
            merchant.trades[refund.out_trade_no].state = "REFUND"

    def notify_later(self, merchant: FakeMerchant, refund: FakeRefund) -> None:
        """The REFUND.* notification of an automatic refund, after the API has answered."""

        async def send() -> None:
            await asyncio.sleep(self.notify_delay_s)
            event = f"REFUND.{refund.status}"
            headers, body = self.build_notification(merchant, event, refund.resource())
            with contextlib.suppress(httpx.HTTPError):  # kept in ``deliveries`` as None
                await self.deliver(refund.notify_url, headers, body)

        task = asyncio.create_task(send())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def build_notification(
        self,
        merchant: FakeMerchant,
        event_type: str,
        resource: dict[str, Any] | bytes,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
        sign_with: rsa.RSAPrivateKey | None = None,
        apiv3_key: str | None = None,
        serial: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A notification as WeChat sends it: ``resource`` (a dict, or raw plaintext bytes)
        encrypted with the merchant's APIv3 key, the body signed with its platform key. Each
        keyword replaces one genuine ingredient, for the tests that forge."""
        original_type = "transaction" if event_type.startswith("TRANSACTION.") else "refund"
        plaintext = resource if isinstance(resource, bytes) else json_bytes(resource)
        body = json_bytes(
            {
                "id": str(uuid.uuid4()),
                "create_time": china_time(),
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": EVENT_SUMMARIES.get(event_type, ""),
                "resource": encrypt_resource(
                    apiv3_key or merchant.apiv3_key, plaintext, original_type
                ),
            }
        )
        return self.sign_notification(
            merchant, body, timestamp=timestamp, nonce=nonce, sign_with=sign_with, serial=serial
        ), body

    def sign_notification(
        self,
        merchant: FakeMerchant,
        body: bytes,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
        sign_with: rsa.RSAPrivateKey | None = None,
        serial: str | None = None,
    ) -> dict[str, str]:
        """The headers of a notification with this exact ``body``."""
        headers = wechat_headers(
            sign_with or merchant.platform_key,
            serial or merchant.platform_key_id,
            body,
            timestamp=timestamp,
            nonce=nonce,
        )
        return {
            **headers,
            "Wechatpay-Signature-Type": SCHEME,
            "Content-Type": "application/json",
            "User-Agent": "Mozilla/4.0",
        }

    async def deliver(self, url: str, headers: dict[str, str], body: bytes) -> httpx.Response:
        """POST a notification to the app, as WeChat does; its answer is returned (and kept
        in ``deliveries``)."""
        async with httpx.AsyncClient(timeout=30) as http:
            try:
                response = await http.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                self.deliveries.append(Delivery(url, headers, body, None))
                raise
        self.deliveries.append(Delivery(url, headers, body, response))
        return response

    # ---- the server -------------------------------------------------------------------

    def authenticate(
        self, request: Request[Any, Any, Any], body: bytes
    ) -> tuple[FakeMerchant | None, str]:
        """(the merchant a request is signed by, "") or (whom it claims, why WeChat refuses
        it with SIGN_ERROR)."""
        raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
        query: bytes = request.scope.get("query_string", b"")
        url = (raw_path + (b"?" + query if query else b"")).decode("latin-1")
        headers = {k.lower(): v for k, v in request.headers.items()}
        record = RecordedRequest(request.method, url, headers, body)
        self.requests.append(record)
        scheme, _, params_text = headers.get("authorization", "").partition(" ")
        if scheme != SCHEME:
            return None, "Authorization 的认证类型不正确"
        params = dict(_AUTH_PARAM.findall(params_text))
        missing = {"mchid", "nonce_str", "signature", "timestamp", "serial_no"} - params.keys()
        if missing:
            return None, f"Authorization 缺少 {', '.join(sorted(missing))}"
        merchant = self.merchants.get(params["mchid"])
        if merchant is None:
            return None, "商户号不存在"
        if params["serial_no"] != merchant.serial_no:
            return merchant, "商户证书序列号有误"
        if not params["timestamp"].isdigit():
            return merchant, "时间戳格式错误"
        if abs(int(params["timestamp"]) - time.time()) > MAX_SKEW_S:
            return merchant, "请求的时间戳已过期"
        signature_ok = rsa_verify(
            merchant.private_key.public_key(),
            params["signature"],
            request.method,
            url,
            params["timestamp"],
            params["nonce_str"],
            body,
        )
        if not signature_ok:
            return merchant, "签名错误，请检查后再试"
        record.mchid = merchant.mchid
        return merchant, ""

    def app(self) -> Litestar:
        return Litestar(routes(self), openapi_config=None, debug=False)

    async def drain(self) -> None:
        """Wait for the notifications still on their way."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
