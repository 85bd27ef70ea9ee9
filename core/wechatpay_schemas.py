"""WeChat Pay API v3's shapes: the trade and refund it answers (and notifications carry), its
times, and their mapping onto ``core.payments.providers`` results. WeChat adds fields over
time; unknown ones are ignored.

- trade_state SUCCESS / REFUND → succeeded; CLOSED / REVOKED / PAYERROR → closed; NOTPAY /
  USERPAYING → pending; anything else is not understood (ValueError).
- refund ``status`` (the API) or ``refund_status`` (a notification): SUCCESS → succeeded,
  PROCESSING → processing, CLOSED / ABNORMAL → failed.
- Times are RFC 3339 in China time (``2026-11-22T10:34:56+08:00``); ours are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

import msgspec

from core.payments.providers import PaymentResult, PaymentState, RefundResult, RefundState

CHINA = timezone(timedelta(hours=8), "CST")

TRADE_STATES: dict[str, PaymentState] = {
    "SUCCESS": "succeeded",
    "REFUND": "succeeded",  # paid, then (partly) refunded: the payment itself succeeded
    "CLOSED": "closed",
    "REVOKED": "closed",
    "PAYERROR": "closed",
    "NOTPAY": "pending",
    "USERPAYING": "pending",
}
REFUND_STATES: dict[str, RefundState] = {
    "SUCCESS": "succeeded",
    "PROCESSING": "processing",
    "CLOSED": "failed",
    "ABNORMAL": "failed",
}


class Amount(msgspec.Struct, kw_only=True):
    total: int = 0
    payer_total: int | None = None
    refund: int = 0
    payer_refund: int | None = None
    currency: str = "CNY"


class Payer(msgspec.Struct, kw_only=True):
    openid: str = ""


class Transaction(msgspec.Struct, kw_only=True):
    """A trade, as the query answers it and as a TRANSACTION.SUCCESS resource carries it."""

    out_trade_no: str
    trade_state: str
    appid: str = ""
    mchid: str = ""
    transaction_id: str = ""
    trade_state_desc: str = ""
    success_time: str = ""
    amount: Amount = msgspec.field(default_factory=Amount)
    payer: Payer = msgspec.field(default_factory=Payer)


class Refund(msgspec.Struct, kw_only=True):
    """A refund: the API's answer says ``status``, a REFUND.* resource ``refund_status``."""

    out_refund_no: str
    refund_id: str = ""
    status: str = ""
    refund_status: str = ""
    out_trade_no: str = ""
    transaction_id: str = ""
    mchid: str = ""
    success_time: str = ""
    amount: Amount = msgspec.field(default_factory=Amount)


T = TypeVar("T")


def decode(body: bytes, kind: type[T]) -> T:
    """Decode an answer, or raise ValueError (msgspec's errors are ValueErrors)."""
    return msgspec.json.decode(body, type=kind)


def wechat_time(moment: datetime) -> str:
    """RFC 3339 in China time, as WeChat writes it: ``2026-11-22T10:34:56+08:00``."""
    return moment.astimezone(CHINA).isoformat(timespec="seconds")


def parse_time(text: str) -> datetime | None:
    """One of WeChat's RFC 3339 times as a UTC datetime (None when absent or malformed)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA)
    return moment.astimezone(UTC)


def payment_result(trade: Transaction) -> PaymentResult:
    """Our word for a WeChat trade; ValueError for a state we do not know."""
    state = TRADE_STATES.get(trade.trade_state)
    if state is None:
        raise ValueError(f"unknown trade_state {trade.trade_state!r}")
    if state == "succeeded" and trade.amount.total <= 0:
        raise ValueError("a paid trade without an amount")
    paid = state == "succeeded"
    return PaymentResult(
        out_trade_no=trade.out_trade_no,
        state=state,
        amount=trade.amount.total if paid else None,
        transaction_id=trade.transaction_id,
        paid_at=parse_time(trade.success_time) if paid else None,
        provider_state=trade.trade_state,
        merchant_id=trade.mchid,
        app_id=trade.appid,
        payer_openid=trade.payer.openid[:64],
    )


def refund_result(refund: Refund) -> RefundResult:
    """Our word for a WeChat refund; ValueError for a status we do not know."""
    status = refund.status or refund.refund_status
    state = REFUND_STATES.get(status)
    if state is None:
        raise ValueError(f"unknown refund status {status!r}")
    return RefundResult(
        out_refund_no=refund.out_refund_no,
        state=state,
        provider_refund_id=refund.refund_id,
        provider_state=status,
        amount=refund.amount.refund,
    )
