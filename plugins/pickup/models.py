"""The pickup plugin's tables: pickup points, the bookings per slot, the pickup side of each
pickup order (its slot and its code) and the log of verifications.

``pickup_slots.booked`` only moves by a conditional UPDATE (``booked < capacity``), so two
buyers racing for the last place in a slot cannot both get it. ``pickup_orders.open_code`` is
the code while it can still be verified and NULL afterwards: the unique constraint on it is
what keeps codes unique among a tenant's open codes (NULLs never clash).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantScoped, tenant_fk, utcnow

POINT_STATUSES = ("active", "inactive")
# pending (placed, unpaid) → open (paid, code issued) → used; or cancelled from either.
CODE_STATUSES = ("pending", "open", "used", "cancelled")


class PickupPoint(TenantScoped, Base):
    __tablename__ = "pickup_points"
    __table_args__ = (
        CheckConstraint("slot_minutes >= 5", name="slot_length"),
        CheckConstraint("capacity IS NULL OR capacity >= 1", name="capacity_positive"),
        CheckConstraint("booking_days IS NULL OR booking_days >= 1", name="booking_days_positive"),
    )

    name: Mapped[str] = mapped_column(String(60))
    address: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(32), default="")
    latitude: Mapped[float]
    longitude: Mapped[float]
    # Seven entries, Monday first: each a list of ["HH:MM", "HH:MM"] opening spans (local time).
    hours: Mapped[list[Any]] = mapped_column(default=list)
    holidays: Mapped[list[str]] = mapped_column(default=list)  # "YYYY-MM-DD", local dates
    slot_minutes: Mapped[int] = mapped_column(default=30)
    capacity: Mapped[int | None] = mapped_column(default=None)  # orders per slot, None: any
    status: Mapped[str] = mapped_column(String(12), default="active")
    staff_ids: Mapped[list[str]] = mapped_column(default=list)  # who may verify here
    # Members who may verify here from the storefront (a community leader at their own point).
    verifier_member_ids: Mapped[list[str]] = mapped_column(default=list)
    # Days of slots buyers may book here; None: the plugin's ``booking_days``.
    booking_days: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PickupSlot(TenantScoped, Base):
    """Orders booked into one slot of one point (a row appears with the first booking)."""

    __tablename__ = "pickup_slots"
    __table_args__ = (
        tenant_fk(["point_id"], "pickup_points"),
        UniqueConstraint("tenant_id", "point_id", "starts_at"),
        CheckConstraint("booked >= 0", name="booked_not_negative"),
    )

    point_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    starts_at: Mapped[datetime]
    booked: Mapped[int] = mapped_column(default=0)


class PickupOrder(TenantScoped, Base):
    """The pickup side of one order: where and when, and its code."""

    __tablename__ = "pickup_orders"
    __table_args__ = (
        tenant_fk(["order_id"], "orders"),
        tenant_fk(["point_id"], "pickup_points"),
        UniqueConstraint("tenant_id", "order_id"),
        UniqueConstraint("tenant_id", "open_code"),
        Index("ix_pickup_orders_tenant_status", "tenant_id", "status", "issued_at"),
    )

    order_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    point_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    slot_starts_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default="pending")
    code: Mapped[str | None] = mapped_column(String(12), default=None)
    open_code: Mapped[str | None] = mapped_column(String(12), default=None)
    issued_at: Mapped[datetime | None] = mapped_column(default=None)
    ready_notified_at: Mapped[datetime | None] = mapped_column(default=None)
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PickupVerification(TenantScoped, Base):
    """One successful verification: which order, at which point, by whom (a staff member, or
    a member who verifies at their own point: ``staff_id`` is then ""), when."""

    __tablename__ = "pickup_verifications"
    __table_args__ = (
        tenant_fk(["order_id"], "orders"),
        tenant_fk(["point_id"], "pickup_points"),
        Index("ix_pickup_verifications_tenant_point", "tenant_id", "point_id", "verified_at"),
    )

    order_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    point_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    staff_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    member_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    method: Mapped[str] = mapped_column(String(8))  # code | qr
    verified_at: Mapped[datetime] = mapped_column(default=utcnow)
