"""Orders, their lines (snapshots of what was bought at what price) and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantScoped, tenant_fk, utcnow

ORDER_STATES = (
    "pending_payment",
    "paid",
    "awaiting_pickup",
    "shipped",
    "completed",
    "cancelled",
    "refunded",
)


class Order(TenantScoped, Base):
    __tablename__ = "orders"
    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        UniqueConstraint("tenant_id", "number"),
        CheckConstraint("payable >= 0", name="payable_not_negative"),
        CheckConstraint("refunded_amount <= refund_held", name="refunded_within_held"),
        CheckConstraint("refund_held <= paid_amount", name="refund_within_paid"),
        Index("ix_orders_tenant_member", "tenant_id", "member_id"),
        Index("ix_orders_tenant_status_deadline", "tenant_id", "status", "payment_deadline"),
        # A day's paid and placed orders (analytics rollups), read by time within the tenant.
        Index("ix_orders_tenant_paid_at", "tenant_id", "paid_at"),
        Index("ix_orders_tenant_created_at", "tenant_id", "created_at"),
    )

    number: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    status: Mapped[str] = mapped_column(String(20), default="pending_payment")
    items_total: Mapped[int]  # fen, sum of line prices before adjustments
    discount_total: Mapped[int] = mapped_column(default=0)  # fen, all price reductions
    shipping_fee: Mapped[int] = mapped_column(default=0)
    payable: Mapped[int]  # fen the buyer pays
    paid_amount: Mapped[int] = mapped_column(default=0)
    refunded_amount: Mapped[int] = mapped_column(default=0)  # fen the provider gave back
    # fen held by refunds requested, processing or succeeded: the conditional UPDATE that
    # raises it (``WHERE refund_held + :n <= paid_amount``) is what stops concurrent refunds
    # from ever exceeding what was paid.
    refund_held: Mapped[int] = mapped_column(default=0)
    fulfillment: Mapped[str] = mapped_column(String(20), default="express")
    # Address snapshot for express, point and slot for pickup, as the method defines.
    fulfillment_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # "" when the order may be fulfilled; else the plugin holding it back (a group-buy team
    # not yet formed). While held, ``paid → shipped | awaiting_pickup`` is refused; the
    # holder lifts it with ``core.orders.state.release_fulfillment``.
    fulfillment_hold: Mapped[str] = mapped_column(String(40), default="")
    # Every price adjustment applied, in stage order: source, label, amount.
    adjustments: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str] = mapped_column(String(200), default="")
    payment_deadline: Mapped[datetime | None] = mapped_column(default=None)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    shipped_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    carrier: Mapped[str] = mapped_column(String(40), default="")
    tracking_no: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrderLine(TenantScoped, Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        tenant_fk(["order_id"], "orders"),
        tenant_fk(["sku_id"], "skus"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("refund_held_quantity <= quantity", name="refund_within_quantity"),
        # An order's lines: every order page, every refund, a day's sales in the rollup.
        Index("ix_order_lines_tenant_order", "tenant_id", "order_id"),
    )

    order_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    sku_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    product_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    title: Mapped[str] = mapped_column(String(120))
    sku_label: Mapped[str] = mapped_column(String(200), default="")
    image: Mapped[str] = mapped_column(String(500), default="")
    unit_price: Mapped[int]  # fen, the line-stage price of one unit
    quantity: Mapped[int]
    line_total: Mapped[int]  # fen, after this line's own adjustments
    adjustments: Mapped[list[Any]] = mapped_column(default=list)
    activity: Mapped[str] = mapped_column(String(80), default="")
    # "" when the core reserved the SKU's stock; else the plugin that holds it
    # (``PricingLine.stock_held_by``) and gives it back itself.
    stock_held_by: Mapped[str] = mapped_column(String(40), default="")
    refunded_quantity: Mapped[int] = mapped_column(default=0)  # units refunded (succeeded)
    # Units held by open or succeeded refunds of this line (as ``Order.refund_held``).
    refund_held_quantity: Mapped[int] = mapped_column(default=0)


class OrderEvent(TenantScoped, Base):
    """One row per state transition: who moved the order, from where to where, and why."""

    __tablename__ = "order_events"
    __table_args__ = (tenant_fk(["order_id"], "orders"),)

    order_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(80))  # member:<id> | staff:<id> | job:<name>
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
