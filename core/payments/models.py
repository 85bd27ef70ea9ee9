"""Payment accounts (a merchant's provider credentials), payment attempts and refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantOwned, TenantScoped, tenant_fk, utcnow

PAYMENT_STATES = ("pending", "succeeded", "closed")
# requested: a member asked, the merchant has not decided; rejected: the merchant said no;
# withdrawn: the member took the request back;
# processing: sent (or about to be sent) to the provider; succeeded / failed: the provider's
# final word. Requested, processing and succeeded refunds hold their amount on the order.
REFUND_STATES = ("requested", "rejected", "withdrawn", "processing", "succeeded", "failed")


class PaymentAccount(TenantOwned, Base):
    """A merchant's credentials for one provider. Secret fields are sealed with the
    deployment's secret key (``core.crypto``) and never returned; ``fingerprints`` is what
    the API shows instead. At most one account of a tenant is ``active``: the one buyers pay
    through."""

    __tablename__ = "payment_accounts"

    provider: Mapped[str] = mapped_column(String(40), primary_key=True)
    active: Mapped[bool] = mapped_column(default=False)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the non-secret fields
    secrets_enc: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    fingerprints: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Payment(TenantScoped, Base):
    """One attempt to collect an order's payable through one provider. Its id is the
    ``out_trade_no`` the provider knows it by; paying again reuses the pending attempt."""

    __tablename__ = "payments"
    __table_args__ = (
        tenant_fk(["order_id"], "orders"),
        UniqueConstraint("tenant_id", "order_id", "provider"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_payments_tenant_status_created", "tenant_id", "status", "created_at"),
    )

    order_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    provider: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int]  # fen asked for: the order's payable
    status: Mapped[str] = mapped_column(String(16), default="pending")
    prepay_id: Mapped[str] = mapped_column(String(128), default="")
    prepay_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime]  # the order's payment deadline; the provider closes it then
    transaction_id: Mapped[str] = mapped_column(String(64), default="")  # the provider's
    paid_amount: Mapped[int] = mapped_column(default=0)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set when the money arrived after the order had been cancelled: it is refunded at once.
    late: Mapped[bool] = mapped_column(default=False)
    checked_at: Mapped[datetime | None] = mapped_column(default=None)  # last provider query
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Refund(TenantScoped, Base):
    """Money going back for an order, wholly or for some of its lines. Its id is the
    ``out_refund_no`` the provider deduplicates on. A member's request (after-sales) starts
    ``requested``; a merchant's direct refund starts ``processing``."""

    __tablename__ = "refunds"
    __table_args__ = (
        tenant_fk(["order_id"], "orders"),
        tenant_fk(["payment_id"], "payments"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_refunds_tenant_order", "tenant_id", "order_id"),
        Index("ix_refunds_tenant_status_created", "tenant_id", "status", "created_at"),
        Index("ix_refunds_tenant_succeeded_at", "tenant_id", "succeeded_at"),  # a day's refunds
    )

    order_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    payment_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    provider: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int]  # fen
    status: Mapped[str] = mapped_column(String(16), default="requested")
    # [{"line_id": ..., "quantity": n, "amount": fen}], or [] for a whole-order refund.
    lines: Mapped[list[Any]] = mapped_column(default=list)
    whole_order: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(String(200), default="")
    photos: Mapped[list[Any]] = mapped_column(default=list)  # image URLs from the member
    requested_by: Mapped[str] = mapped_column(String(80))  # member:<id> | staff:<id> | job:<n>
    decided_by: Mapped[str] = mapped_column(String(80), default="")
    reject_reason: Mapped[str] = mapped_column(String(200), default="")
    provider_refund_id: Mapped[str] = mapped_column(String(64), default="")
    provider_status: Mapped[str] = mapped_column(String(32), default="")  # the provider's word
    restock: Mapped[bool] = mapped_column(default=False)  # stock returned on success
    checked_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    succeeded_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
