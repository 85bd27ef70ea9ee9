"""WeChat Pay API v3 for mini-program (JSAPI) payments: the merchant's config, its check,
the HTTP client and the pay sheet's signature. The crypto lives in ``core.wechatpay_crypto``,
WeChat's answer shapes and their mapping in ``core.wechatpay_schemas``, notifications in
``core.wechatpay_notify``; the provider the payments module drives is
``core.payments.wechatpay_provider``.

The calls (base URL ``settings.wechatpay_base_url``, https://api.mch.weixin.qq.com):

- ``POST /v3/pay/transactions/jsapi`` ``{appid, mchid, description (≤127 bytes),
  out_trade_no, time_expire (RFC 3339, +08:00), notify_url, amount: {total, currency: CNY},
  payer: {openid}}`` → 200 ``{prepay_id}``, usable for two hours.
- ``GET /v3/pay/transactions/out-trade-no/{no}?mchid=`` → the transaction (``trade_state``
  SUCCESS / REFUND → succeeded; CLOSED / REVOKED / PAYERROR → closed; NOTPAY / USERPAYING →
  pending); 404 ``ORDER_NOT_EXIST`` means never paid, so pending.
- ``POST /v3/pay/transactions/out-trade-no/{no}/close`` ``{mchid}`` → 204.
- ``POST /v3/refund/domestic/refunds`` ``{out_trade_no, out_refund_no, reason, notify_url,
  amount: {refund, total, currency}}`` and ``GET /v3/refund/domestic/refunds/{no}`` → the
  refund (``status`` SUCCESS → succeeded, PROCESSING → processing, CLOSED / ABNORMAL →
  failed); WeChat deduplicates on ``out_refund_no``.

Every request is signed (``Authorization``, see the crypto module) and carries ``Accept``,
``Content-Type``, ``User-Agent`` and ``Wechatpay-Serial``. Every 2xx answer must carry WeChat's
valid signature by ``platform_key_id``, or it is refused. Errors come as 4xx/5xx with
``{code, message}`` (not signature-checked, as WeChat's SDKs do) and become
``WeChatPayError`` (a 502 ``ProviderError``) with WeChat's code; so do timeouts and network
errors.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import httpx
import msgspec
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from core.db import utcnow
from core.errors import FieldError, Invalid
from core.payments.providers import (
    PaymentRequest,
    PaymentResult,
    Prepay,
    ProviderError,
    RefundRequest,
    RefundResult,
)
from core.wechatpay_crypto import (
    BadKey,
    SignatureRefused,
    authorization,
    load_platform_key,
    load_private_key,
    message,
    nonce_str,
    sign,
    verify_wechat_signature,
)
from core.wechatpay_schemas import (
    Refund,
    T,
    Transaction,
    decode,
    payment_result,
    refund_result,
    wechat_time,
)

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("storeplug.wechatpay")

TIMEOUT = httpx.Timeout(10.0, connect=3.0)
USER_AGENT = "storeplug/0.1 (WeChatPay-APIv3; python-httpx)"
PREPAY_TTL = timedelta(hours=2)
DESCRIPTION_MAX_BYTES = 127
REASON_MAX_CHARS = 80


class WeChatPayConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What a merchant enters (商户平台 → API安全). ``merchant_private_key`` and ``apiv3_key``
    are the secrets."""

    mchid: str  # 商户号
    appid: str  # the mini-program's AppID, bound to the mchid
    merchant_serial_no: str  # 商户API证书序列号
    merchant_private_key: str  # apiclient_key.pem
    apiv3_key: str  # APIv3密钥, 32 characters
    platform_public_key: str  # 微信支付公钥 (pub_key.pem) or a platform certificate
    platform_key_id: str  # 公钥ID (PUB_KEY_ID_…) or the platform certificate's serial


_MCHID = re.compile(r"[0-9]{8,12}")
_APPID = re.compile(r"wx[0-9a-f]{16}")
_HEX = re.compile(r"[0-9A-Fa-f]{1,64}")
_PUBLIC_KEY_ID = re.compile(r"PUB_KEY_ID_[0-9A-Za-z_]{1,64}")


def check_config(config: WeChatPayConfig) -> None:
    """Refuse a config that cannot work, naming every bad field (``payment.invalid_config``)."""
    errors: list[FieldError] = []

    def bad(field: str, why: str) -> None:
        errors.append(FieldError(field=field, message=why))

    if not _MCHID.fullmatch(config.mchid):
        bad("mchid", "must be the merchant id: 8 to 12 digits")
    if not _APPID.fullmatch(config.appid):
        bad("appid", "must be the mini-program AppID: wx followed by 16 hex characters")
    if not _HEX.fullmatch(config.merchant_serial_no):
        bad("merchant_serial_no", "must be the API certificate serial: up to 64 hex characters")
    try:
        load_private_key(config.merchant_private_key)
    except BadKey as exc:
        bad("merchant_private_key", str(exc))
    if not config.apiv3_key.isascii() or len(config.apiv3_key) != 32:
        bad("apiv3_key", "must be exactly 32 ASCII characters")
    cert_serial: int | None = None
    try:
        _, cert_serial = load_platform_key(config.platform_public_key)
    except BadKey as exc:
        bad("platform_public_key", str(exc))
    key_id = config.platform_key_id
    if cert_serial is not None:
        if not _HEX.fullmatch(key_id) or int(key_id, 16) != cert_serial:
            bad("platform_key_id", "must be the serial number of the platform certificate")
    elif not (_PUBLIC_KEY_ID.fullmatch(key_id) or _HEX.fullmatch(key_id)):
        bad("platform_key_id", "must be the public key id (PUB_KEY_ID_…) or a certificate serial")
    if errors:
        raise Invalid(
            "the WeChat Pay settings are not valid", code="payment.invalid_config", errors=errors
        )


class WeChatPayError(ProviderError):
    """WeChat Pay refused a call or could not be reached. ``wechat_code`` is WeChat's error
    code (``ORDERPAID``, ``NOT_ENOUGH``…) when it answered one."""

    def __init__(self, detail: str, *, wechat_code: str = "", http_status: int | None = None):
        super().__init__(detail)
        self.wechat_code = wechat_code
        self.http_status = http_status


class _PrepayAnswer(msgspec.Struct):
    prepay_id: str


class _ErrorAnswer(msgspec.Struct):
    code: str = ""
    message: str = ""


def clip_utf8(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes, never cutting a character in half."""
    return text.encode()[:limit].decode(errors="ignore")


def client_params(
    config: WeChatPayConfig, prepay_id: str, *, timestamp: int | None = None
) -> dict[str, str]:
    """``wx.requestPayment``'s arguments, freshly signed with the merchant key (the appId is
    signed but the mini-program supplies it itself)."""
    stamp = str(int(utcnow().timestamp()) if timestamp is None else timestamp)
    nonce = nonce_str()
    package = f"prepay_id={prepay_id}"
    pay_sign = sign(_merchant_key(config), message(config.appid, stamp, nonce, package))
    return {
        "timeStamp": stamp,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": pay_sign,
    }


def verify_response(
    config: WeChatPayConfig,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
) -> None:
    """Refuse (WeChatPayError) an answer WeChat did not sign with ``platform_key_id``."""
    try:
        public_key, _ = load_platform_key(config.platform_public_key)
        verify_wechat_signature(
            headers, body, public_key=public_key, key_id=config.platform_key_id, now=now
        )
    except (SignatureRefused, BadKey) as exc:
        log.warning("WeChat Pay answer refused: %s", exc)
        raise WeChatPayError(f"WeChat Pay's answer is not authentic ({exc})") from None


# ---- the client --------------------------------------------------------------------------


class WeChatPayClient:
    """One merchant's WeChat Pay client for one piece of work; use as ``async with``."""

    def __init__(
        self,
        base_url: str,
        config: WeChatPayConfig,
        *,
        timeout: httpx.Timeout = TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )

    @classmethod
    def of(cls, rt: Runtime, config: WeChatPayConfig) -> WeChatPayClient:
        return cls(rt.settings.wechatpay_base_url, config)

    async def __aenter__(self) -> WeChatPayClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    async def call(
        self, method: str, path: str, *, query: dict[str, str] | None = None, body: Any = None
    ) -> tuple[int, bytes]:
        """One signed call: (status, verified body) of a 2xx answer, else WeChatPayError."""
        config = self.config
        # The signature covers the URL as sent: build it ourselves, already percent-encoded.
        url = path + ("?" + urlencode(query, quote_via=quote) if query else "")
        content = msgspec.json.encode(body) if body is not None else b""
        headers = {
            "Authorization": authorization(
                mchid=config.mchid,
                serial_no=config.merchant_serial_no,
                private_key=_merchant_key(config),
                method=method,
                url=url,
                body=content,
            ),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Wechatpay-Serial": config.platform_key_id,
        }
        try:
            response = await self._http.request(
                method, url, content=content or None, headers=headers
            )
        except httpx.TimeoutException:
            raise WeChatPayError("WeChat Pay did not answer in time") from None
        except httpx.HTTPError as exc:
            raise WeChatPayError(f"WeChat Pay is unreachable ({type(exc).__name__})") from None
        if response.status_code >= 300:
            raise _error_of(response)
        verify_response(config, response.headers, response.content)
        return response.status_code, response.content

    async def jsapi_prepay(self, request: PaymentRequest) -> Prepay:
        config = self.config
        _, body = await self.call(
            "POST",
            "/v3/pay/transactions/jsapi",
            body={
                "appid": config.appid,
                "mchid": config.mchid,
                "description": clip_utf8(request.description, DESCRIPTION_MAX_BYTES),
                "out_trade_no": request.out_trade_no,
                "time_expire": wechat_time(request.expires_at),
                "notify_url": request.notify_url,
                "amount": {"total": request.amount, "currency": "CNY"},
                "payer": {"openid": request.payer_openid},
            },
        )
        answer = _decoded(body, _PrepayAnswer)
        if not answer.prepay_id:
            raise WeChatPayError("WeChat Pay answered no prepay_id")
        return Prepay(
            reference=answer.prepay_id, expires_at=min(utcnow() + PREPAY_TTL, request.expires_at)
        )

    async def query_trade(self, out_trade_no: str) -> PaymentResult:
        try:
            _, body = await self.call(
                "GET", _trade_path(out_trade_no), query={"mchid": self.config.mchid}
            )
        except WeChatPayError as exc:
            if exc.wechat_code == "ORDER_NOT_EXIST":
                # Never opened (or not yet visible): nobody paid it.
                return PaymentResult(
                    out_trade_no=out_trade_no, state="pending", provider_state="ORDER_NOT_EXIST"
                )
            raise
        trade = _decoded(body, Transaction)
        if trade.out_trade_no != out_trade_no or trade.mchid != self.config.mchid:
            raise WeChatPayError("WeChat Pay answered about another trade")
        try:
            return payment_result(trade)
        except ValueError as exc:
            raise WeChatPayError(f"WeChat Pay's answer is not understood ({exc})") from None

    async def close_trade(self, out_trade_no: str) -> None:
        await self.call(
            "POST", _trade_path(out_trade_no) + "/close", body={"mchid": self.config.mchid}
        )

    async def refund(self, request: RefundRequest) -> RefundResult:
        body: dict[str, Any] = {
            "out_trade_no": request.out_trade_no,
            "out_refund_no": request.out_refund_no,
        }
        if request.reason:
            body["reason"] = request.reason[:REASON_MAX_CHARS]
        body["notify_url"] = request.notify_url
        body["amount"] = {"refund": request.amount, "total": request.total, "currency": "CNY"}
        _, answer = await self.call("POST", "/v3/refund/domestic/refunds", body=body)
        return self._refund_answer(answer, request.out_refund_no)

    async def query_refund(self, out_refund_no: str) -> RefundResult:
        _, answer = await self.call(
            "GET", "/v3/refund/domestic/refunds/" + quote(out_refund_no, safe="")
        )
        return self._refund_answer(answer, out_refund_no)

    def _refund_answer(self, body: bytes, out_refund_no: str) -> RefundResult:
        refund = _decoded(body, Refund)
        if refund.out_refund_no != out_refund_no:
            raise WeChatPayError("WeChat Pay answered about another refund")
        try:
            return refund_result(refund)
        except ValueError as exc:
            raise WeChatPayError(f"WeChat Pay's answer is not understood ({exc})") from None


def _merchant_key(config: WeChatPayConfig) -> RSAPrivateKey:
    try:
        return load_private_key(config.merchant_private_key)
    except BadKey as exc:  # checked on save; a stored key that stopped loading is our 502
        raise WeChatPayError(f"the merchant's API key does not load ({exc})") from None


def _trade_path(out_trade_no: str) -> str:
    return "/v3/pay/transactions/out-trade-no/" + quote(out_trade_no, safe="")


def _decoded(body: bytes, kind: type[T]) -> T:
    try:
        return decode(body, kind)
    except ValueError:
        raise WeChatPayError("WeChat Pay's answer is malformed") from None


def _error_of(response: httpx.Response) -> WeChatPayError:
    try:
        error = decode(response.content, _ErrorAnswer)
    except ValueError:
        error = _ErrorAnswer()
    code = error.code or f"HTTP_{response.status_code}"
    log.warning("WeChat Pay error %s %s: %s", response.status_code, code, error.message[:200])
    detail = f"WeChat Pay refused the request: {code}"
    if error.message:
        detail += f" ({error.message[:200]})"
    return WeChatPayError(detail, wechat_code=code, http_status=response.status_code)
