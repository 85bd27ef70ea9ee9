"""The flash sale's tables: activities, their SKUs with the activity stock, the flash orders
holding units, and each member's count per activity.

The database is the truth. ``flashsale_items.sold`` counts the units held by unpaid orders
plus the paid ones, and only a conditional UPDATE moves it (``sold + n <= stock``), in both
stock modes: Redis is the fast gate in front of it, never the only guard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantOwned, TenantScoped, tenant_fk, utcnow

# draft → scheduled → running → ended, or cancelled from any of the first three.
STATUSES = ("draft", "scheduled", "running", "ended", "cancelled")
# Published and not over: their SKUs' stock sits in the activity.
LIVE = ("scheduled", "running")


class FlashActivity(TenantScoped, Base):
    __tablename__ = "flashsale_activities"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window"),
        CheckConstraint("member_limit >= 1 AND order_limit >= 1", name="limits"),
        Index("ix_flashsale_activities_tenant_status", "tenant_id", "status", "starts_at"),
    )

    title: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(12), default="draft")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    member_limit: Mapped[int] = mapped_column(default=1)  # units per member, whole activity
    order_limit: Mapped[int] = mapped_column(default=1)  # units per order
    # None: the plugin setting's default payment window.
    payment_window_minutes: Mapped[int | None] = mapped_column(default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)  # ended or cancelled
    # What the last reconcile found: {"checked_at", "stock": {sku: [redis, db]}, ...}.
    reconcile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FlashItem(TenantScoped, Base):
    """One SKU of an activity: its flash price and the stock moved into the activity."""

    __tablename__ = "flashsale_items"
    __table_args__ = (
        tenant_fk(["activity_id"], "flashsale_activities"),
        tenant_fk(["sku_id"], "skus"),
        UniqueConstraint("tenant_id", "activity_id", "sku_id"),
        CheckConstraint("flash_price >= 0", name="price_not_negative"),
        CheckConstraint("sold >= 0 AND sold <= stock", name="sold_within_stock"),
        CheckConstraint("paid >= 0 AND refunded >= 0", name="counts_not_negative"),
        Index("ix_flashsale_items_tenant_sku", "tenant_id", "sku_id"),
    )

    activity_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    sku_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    product_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    flash_price: Mapped[int]  # fen
    allotted: Mapped[int]  # units the merchant put into the activity
    stock: Mapped[int]  # units in the activity now; shrinks to ``sold`` when it closes
    sold: Mapped[int] = mapped_column(default=0)  # held by unpaid orders + paid
    paid: Mapped[int] = mapped_column(default=0)
    refunded: Mapped[int] = mapped_column(default=0)
    revenue: Mapped[int] = mapped_column(default=0)  # fen paid at the flash price


class FlashOrder(TenantScoped, Base):
    """The units one order holds: ``held`` until paid or released, exactly once."""

    __tablename__ = "flashsale_orders"
    __table_args__ = (
        tenant_fk(["activity_id"], "flashsale_activities"),
        tenant_fk(["item_id"], "flashsale_items"),
        tenant_fk(["order_id"], "orders"),
        UniqueConstraint("tenant_id", "order_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_flashsale_orders_tenant_activity", "tenant_id", "activity_id", "status"),
    )

    activity_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    item_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    sku_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    order_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    quantity: Mapped[int]
    amount: Mapped[int]  # fen, flash price × quantity
    # The buy's reservation token (from the member and the Idempotency-Key): the Redis hold.
    token: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="held")  # held|paid|released
    refunded_quantity: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)


class FlashMember(TenantOwned, Base):
    """Units a member holds or bought in one activity (the per-member limit's truth)."""

    __tablename__ = "flashsale_members"
    __table_args__ = (
        tenant_fk(["activity_id"], "flashsale_activities"),
        tenant_fk(["member_id"], "members"),
        CheckConstraint("bought >= 0", name="bought_not_negative"),
    )

    activity_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    bought: Mapped[int] = mapped_column(default=0)
