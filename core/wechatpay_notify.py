"""WeChat Pay API v3 notifications (支付通知 / 退款通知), POSTed by WeChat to the
``notify_url`` of a payment or refund.

Headers ``Wechatpay-Timestamp``, ``Wechatpay-Nonce``, ``Wechatpay-Signature``,
``Wechatpay-Serial`` and ``Wechatpay-Signature-Type: WECHATPAY2-SHA256-RSA2048``; the body::

    {"id": "…", "create_time": "2026-11-22T10:34:56+08:00", "event_type": "TRANSACTION.SUCCESS",
     "resource_type": "encrypt-resource", "summary": "支付成功",
     "resource": {"algorithm": "AEAD_AES_256_GCM", "ciphertext": "<base64>",
                  "associated_data": "transaction", "original_type": "transaction",
                  "nonce": "…"}}

``parse_notification`` verifies the signature over ``TIMESTAMP\\nNONCE\\nBODY\\n`` (the raw
bytes) with the platform key named by ``platform_key_id``, refuses a timestamp more than five
minutes off, decrypts the resource with the APIv3 key and decodes it: a transaction
(TRANSACTION.SUCCESS, the query's shape) or a refund (REFUND.SUCCESS / ABNORMAL / CLOSED:
``{mchid, out_trade_no, transaction_id, out_refund_no, refund_id, refund_status,
success_time, amount: {total, refund, payer_total, payer_refund}}``). A resource for another
mchid or appid is refused. Anything wrong raises ``NotificationRefused`` (401 at the webhook,
so WeChat retries a genuine one); checking the amount against the payment is the caller's job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

import msgspec

from core.payments.providers import (
    Notification,
    NotificationRefused,
    PaymentResult,
    RefundResult,
)
from core.wechatpay import WeChatPayConfig
from core.wechatpay_crypto import BadKey, SignatureRefused, decrypt_resource, load_platform_key
from core.wechatpay_crypto import verify_wechat_signature as verify_signature
from core.wechatpay_schemas import Refund, Transaction, decode, payment_result, refund_result

log = logging.getLogger("storeplug.wechatpay")

PAYMENT_EVENTS = frozenset({"TRANSACTION.SUCCESS"})
REFUND_EVENTS = frozenset({"REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED"})


class Resource(msgspec.Struct, kw_only=True):
    algorithm: str
    ciphertext: str
    nonce: str
    associated_data: str = ""
    original_type: str = ""


class Envelope(msgspec.Struct, kw_only=True):
    id: str
    event_type: str
    resource: Resource
    create_time: str = ""
    resource_type: str = ""
    summary: str = ""


def _refuse(reason: str) -> NotificationRefused:
    log.warning("WeChat Pay notification refused: %s", reason)
    return NotificationRefused(f"WeChat Pay notification refused: {reason}")


def parse_notification(
    config: WeChatPayConfig,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
) -> Notification:
    """Verify, decrypt and decode one notification, or raise ``NotificationRefused``."""
    try:
        public_key, _ = load_platform_key(config.platform_public_key)
        verify_signature(
            headers, body, public_key=public_key, key_id=config.platform_key_id, now=now
        )
    except (SignatureRefused, BadKey) as exc:
        raise _refuse(str(exc)) from None
    try:
        envelope = decode(body, Envelope)
    except ValueError:
        raise _refuse("the body is not a WeChat Pay notification") from None
    resource = envelope.resource
    if resource.algorithm != "AEAD_AES_256_GCM":
        raise _refuse(f"unsupported algorithm {resource.algorithm!r}")
    try:
        plaintext = decrypt_resource(
            config.apiv3_key, resource.nonce, resource.associated_data, resource.ciphertext
        )
    except ValueError as exc:
        raise _refuse(str(exc)) from None
    if envelope.event_type in PAYMENT_EVENTS:
        return Notification(event_id=envelope.id, payment=_payment(config, plaintext))
    if envelope.event_type in REFUND_EVENTS:
        return Notification(event_id=envelope.id, refund=_refund(config, plaintext))
    raise _refuse(f"unexpected event_type {envelope.event_type!r}")


def _payment(config: WeChatPayConfig, plaintext: bytes) -> PaymentResult:
    try:
        trade = decode(plaintext, Transaction)
    except ValueError:
        raise _refuse("the transaction resource is malformed") from None
    if trade.mchid != config.mchid or trade.appid != config.appid:
        raise _refuse(f"the transaction belongs to mchid {trade.mchid!r} / appid {trade.appid!r}")
    try:
        return payment_result(trade)
    except ValueError as exc:
        raise _refuse(str(exc)) from None


def _refund(config: WeChatPayConfig, plaintext: bytes) -> RefundResult:
    try:
        refund = decode(plaintext, Refund)
    except ValueError:
        raise _refuse("the refund resource is malformed") from None
    if refund.mchid != config.mchid:
        raise _refuse(f"the refund belongs to mchid {refund.mchid!r}")
    try:
        return refund_result(refund)
    except ValueError as exc:
        raise _refuse(str(exc)) from None
