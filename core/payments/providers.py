"""What a payment provider is: the protocol the payments module drives, and the shapes it
exchanges with it.

Providers are registered through the ``register_payment_providers`` hook at start-up (the
core's ``sandbox`` and ``wechatpay``; a plugin may add more). A provider is stateless: every
call gets the tenant's decrypted ``Account``. Providers do the network I/O; they are called by
the pay route (while the buyer waits) and by jobs, never by hooks and never inside a database
transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import msgspec

from core.errors import AppError

if TYPE_CHECKING:
    from core.runtime import Runtime

PaymentState = Literal["pending", "succeeded", "closed"]
RefundState = Literal["processing", "succeeded", "failed"]


class Account(msgspec.Struct, frozen=True, kw_only=True):
    """A tenant's credentials for one provider, decrypted for one call. Never serialised
    into a response or a log line."""

    tenant_id: str
    tenant_slug: str
    provider: str
    config: Any  # the provider's ``config_type`` instance, secrets included


class PaymentRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a provider needs to open a payment."""

    out_trade_no: str  # our payment id
    amount: int  # fen
    description: str  # shown on the buyer's bill, e.g. "<store> order 2026…"
    payer_openid: str  # the member's openid in the mini-program
    expires_at: datetime  # the order's payment deadline
    notify_url: str  # where the provider's notifications for this tenant go


class PaymentResult(msgspec.Struct, frozen=True, kw_only=True):
    """The provider's word on one payment (a query, a notification or the sandbox)."""

    out_trade_no: str
    state: PaymentState
    amount: int | None = None  # fen the buyer paid (only for "succeeded")
    transaction_id: str = ""
    paid_at: datetime | None = None
    provider_state: str = ""  # the provider's own word (WeChat's trade_state)
    # The merchant and app the money went to, checked against the account.
    merchant_id: str = ""
    app_id: str = ""
    # Who paid (WeChat's payer.openid): lets a visitor's first payment make them a member.
    payer_openid: str = ""


class Prepay(msgspec.Struct, frozen=True, kw_only=True):
    """A payment opened at the provider, and what the app passes to its payment sheet."""

    reference: str  # WeChat's prepay_id
    expires_at: datetime | None  # when the reference stops working (WeChat: 2 hours)
    # Set by a provider that settles at once (the sandbox): the payments module then applies
    # it through the same code path as a notification.
    settled: PaymentResult | None = None


class RefundRequest(msgspec.Struct, frozen=True, kw_only=True):
    out_trade_no: str  # the payment's id
    out_refund_no: str  # our refund id; the provider deduplicates on it
    amount: int  # fen to give back
    total: int  # fen of the original payment
    reason: str
    notify_url: str


class RefundResult(msgspec.Struct, frozen=True, kw_only=True):
    out_refund_no: str
    state: RefundState
    provider_refund_id: str = ""
    provider_state: str = ""  # WeChat's SUCCESS / PROCESSING / CLOSED / ABNORMAL
    amount: int | None = None


class Notification(msgspec.Struct, frozen=True, kw_only=True):
    """A verified, decrypted notification: one of the two results is set."""

    event_id: str
    payment: PaymentResult | None = None
    refund: RefundResult | None = None


class NotificationRefused(AppError):
    """A notification that failed verification (signature, timestamp, decryption); it
    changes nothing and is answered 401 with WeChat's FAIL body."""

    status = 401
    code = "payment.notification_refused"


class ProviderError(AppError):
    """The provider refused or could not be reached; the message says which."""

    status = 502
    code = "payment.provider_error"


class PaymentProvider(Protocol):
    """One way to take money. ``config_type`` is the msgspec Struct a merchant fills in;
    fields named in ``secret_fields`` are sealed at rest and shown only as fingerprints."""

    name: ClassVar[str]
    title: ClassVar[str]
    config_type: ClassVar[type[msgspec.Struct]]
    secret_fields: ClassVar[frozenset[str]]
    # Whether a deployment must opt in (``STOREPLUG_ALLOW_SANDBOX_PAYMENTS``): the sandbox
    # takes no money, so a production deployment keeps it off.
    sandbox: ClassVar[bool]

    def check_config(self, config: Any) -> None:
        """Refuse a config that cannot work (a key that does not parse, a wrong size) with
        ``core.errors.Invalid`` naming the fields; called on save."""

    async def prepay(self, rt: Runtime, account: Account, request: PaymentRequest) -> Prepay:
        """Open the payment at the provider (WeChat: ``POST /v3/pay/transactions/jsapi``)."""

    def client_params(self, account: Account, reference: str) -> dict[str, str]:
        """What the app passes to its payment sheet, freshly signed (WeChat:
        ``timeStamp, nonceStr, package, signType, paySign`` for ``wx.requestPayment``)."""

    async def query(self, rt: Runtime, account: Account, out_trade_no: str) -> PaymentResult:
        """The payment's state at the provider (a lost notification is found this way)."""

    async def close(self, rt: Runtime, account: Account, out_trade_no: str) -> None:
        """Close an unpaid payment so it can no longer be paid (an expired order)."""

    async def refund(self, rt: Runtime, account: Account, request: RefundRequest) -> RefundResult:
        """Ask for money back; safe to repeat with the same ``out_refund_no``."""

    async def query_refund(
        self, rt: Runtime, account: Account, out_refund_no: str
    ) -> RefundResult: ...

    def parse_notification(
        self, account: Account, headers: Mapping[str, str], body: bytes
    ) -> Notification:
        """Verify and decrypt a notification, or raise ``NotificationRefused``."""


def index_providers(batches: list[list[PaymentProvider]]) -> dict[str, PaymentProvider]:
    """The providers of every ``register_payment_providers`` answer, by name."""
    providers: dict[str, PaymentProvider] = {}
    for batch in batches:
        for provider in batch:
            if provider.name in providers:
                raise RuntimeError(f"payment provider {provider.name!r} is registered twice")
            providers[provider.name] = provider
    return providers
