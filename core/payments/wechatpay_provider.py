"""The ``wechatpay`` payment provider: WeChat Pay API v3 for the store's mini-program (JSAPI),
a thin adapter from the ``PaymentProvider`` protocol to ``core.wechatpay`` (the client and
config), ``core.wechatpay_notify`` (notifications) and ``core.wechatpay_crypto``.

Every call opens its own HTTP client against ``settings.wechatpay_base_url``; failures raise
``core.wechatpay.WeChatPayError`` (a ``ProviderError``, 502) with WeChat's code in
``wechat_code``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from core import wechatpay
from core.errors import Invalid
from core.payments.providers import (
    Account,
    Notification,
    PaymentRequest,
    PaymentResult,
    Prepay,
    RefundRequest,
    RefundResult,
)
from core.wechatpay import WeChatPayClient, WeChatPayConfig
from core.wechatpay_notify import parse_notification

if TYPE_CHECKING:
    from core.runtime import Runtime


def _config(account: Account) -> WeChatPayConfig:
    if not isinstance(account.config, WeChatPayConfig):
        raise TypeError(f"account of {account.provider!r} has no WeChatPayConfig")
    return account.config


class WeChatPayProvider:
    name: ClassVar[str] = "wechatpay"
    title: ClassVar[str] = "微信支付"
    config_type: ClassVar[type[msgspec.Struct]] = WeChatPayConfig
    secret_fields: ClassVar[frozenset[str]] = frozenset({"merchant_private_key", "apiv3_key"})
    sandbox: ClassVar[bool] = False

    def check_config(self, config: Any) -> None:
        if not isinstance(config, WeChatPayConfig):
            raise Invalid("the WeChat Pay settings are missing", code="payment.invalid_config")
        wechatpay.check_config(config)

    async def prepay(self, rt: Runtime, account: Account, request: PaymentRequest) -> Prepay:
        async with WeChatPayClient.of(rt, _config(account)) as client:
            return await client.jsapi_prepay(request)

    def client_params(self, account: Account, reference: str) -> dict[str, str]:
        return wechatpay.client_params(_config(account), reference)

    async def query(self, rt: Runtime, account: Account, out_trade_no: str) -> PaymentResult:
        async with WeChatPayClient.of(rt, _config(account)) as client:
            return await client.query_trade(out_trade_no)

    async def close(self, rt: Runtime, account: Account, out_trade_no: str) -> None:
        async with WeChatPayClient.of(rt, _config(account)) as client:
            await client.close_trade(out_trade_no)

    async def refund(self, rt: Runtime, account: Account, request: RefundRequest) -> RefundResult:
        async with WeChatPayClient.of(rt, _config(account)) as client:
            return await client.refund(request)

    async def query_refund(self, rt: Runtime, account: Account, out_refund_no: str) -> RefundResult:
        async with WeChatPayClient.of(rt, _config(account)) as client:
            return await client.query_refund(out_refund_no)

    def parse_notification(
        self,
        account: Account,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: datetime | None = None,
    ) -> Notification:
        return parse_notification(_config(account), headers, body, now=now)
