"""The sandbox provider: takes no money and makes no network call, so the demo (and the
tests) can pay. A deployment must opt in (``STOREPLUG_ALLOW_SANDBOX_PAYMENTS``).

Its prepay settles at once: the ``Prepay`` carries a successful ``PaymentResult``, which the
payments module applies through the same function as a real notification. Refunds succeed at
once too. It is stateless, so a query cannot know more than "still pending".
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from core.db import utcnow
from core.payments.providers import (
    Account,
    Notification,
    NotificationRefused,
    PaymentRequest,
    PaymentResult,
    Prepay,
    RefundRequest,
    RefundResult,
)

if TYPE_CHECKING:
    from core.runtime import Runtime


class SandboxConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The sandbox needs no credentials."""


def _reference(prefix: str) -> str:
    return f"sandbox-{prefix}-{secrets.token_hex(8)}"


class SandboxProvider:
    name: ClassVar[str] = "sandbox"
    title: ClassVar[str] = "Sandbox (no money moves)"
    config_type: ClassVar[type[msgspec.Struct]] = SandboxConfig
    secret_fields: ClassVar[frozenset[str]] = frozenset()
    sandbox: ClassVar[bool] = True

    def check_config(self, config: Any) -> None:
        return None

    async def prepay(self, rt: Runtime, account: Account, request: PaymentRequest) -> Prepay:
        paid = PaymentResult(
            out_trade_no=request.out_trade_no,
            state="succeeded",
            amount=request.amount,
            transaction_id=_reference("tx"),
            paid_at=utcnow(),
            provider_state="SUCCESS",
        )
        return Prepay(reference=_reference("prepay"), expires_at=None, settled=paid)

    def client_params(self, account: Account, reference: str) -> dict[str, str]:
        return {}  # nothing to show: the payment is already settled

    async def query(self, rt: Runtime, account: Account, out_trade_no: str) -> PaymentResult:
        return PaymentResult(out_trade_no=out_trade_no, state="pending", provider_state="NOTPAY")

    async def close(self, rt: Runtime, account: Account, out_trade_no: str) -> None:
        return None

    async def refund(self, rt: Runtime, account: Account, request: RefundRequest) -> RefundResult:
        return RefundResult(
            out_refund_no=request.out_refund_no,
            state="succeeded",
            provider_refund_id=_reference("refund"),
            provider_state="SUCCESS",
            amount=request.amount,
        )

    async def query_refund(self, rt: Runtime, account: Account, out_refund_no: str) -> RefundResult:
        # Every sandbox refund succeeded when it was asked for.
        return RefundResult(
            out_refund_no=out_refund_no, state="succeeded", provider_state="SUCCESS"
        )

    def parse_notification(
        self, account: Account, headers: Mapping[str, str], body: bytes
    ) -> Notification:
        raise NotificationRefused("the sandbox sends no notifications")
