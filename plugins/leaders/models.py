"""The community leaders' tables: the leaders (an application until the merchant approves
it), the buyers bound to them, and the leader of each order.

A member has at most one leader row (``(tenant_id, member_id)`` is unique) and at most one
binding; the unique keys decide races (two first visits of one buyer through two links bind
once). ``leaders_orders`` records which leader an order counts for: the leader of the pickup
point it goes to, else the buyer's bound leader; it is what commission and the merchant's
GMV through leaders are counted from.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantScoped, tenant_fk, utcnow

# applied → active (approved, with a pickup point) | rejected (may apply again);
# active ⇄ suspended; active | suspended → ended (final).
LEADER_STATUSES = ("applied", "active", "rejected", "suspended", "ended")
# How a buyer was bound: signed up through the leader's link, or opened it later.
BINDING_SOURCES = ("register", "link")
# Why an order counts for its leader: picked up at the leader's point, or a bound buyer's.
ORDER_VIA = ("point", "binding")


class Leader(TenantScoped, Base):
    __tablename__ = "leaders_leaders"
    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        tenant_fk(["point_id"], "pickup_points"),
        UniqueConstraint("tenant_id", "member_id"),
        UniqueConstraint("tenant_id", "point_id"),
        Index("ix_leaders_leaders_tenant_status", "tenant_id", "status", "id"),
    )

    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    status: Mapped[str] = mapped_column(String(12), default="applied")
    name: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[float]
    longitude: Mapped[float]
    photo_url: Mapped[str] = mapped_column(String(500))
    level: Mapped[str] = mapped_column(String(20), default="")  # a level code of the settings
    point_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    reason: Mapped[str] = mapped_column(String(200), default="")  # of a rejection, suspension…
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)  # the last decision
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LeaderBinding(TenantScoped, Base):
    """The buyer's leader: one row per buyer, replaced by a later link only when the settings
    say the latest link wins (or the binding has lapsed)."""

    __tablename__ = "leaders_bindings"
    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        tenant_fk(["leader_id"], "leaders_leaders"),
        UniqueConstraint("tenant_id", "member_id"),
        Index("ix_leaders_bindings_tenant_leader", "tenant_id", "leader_id", "id"),
    )

    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    leader_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    source: Mapped[str] = mapped_column(String(12))
    bound_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)  # None: for good


class LeaderOrder(TenantScoped, Base):
    """The leader an order counts for, written when the order is placed."""

    __tablename__ = "leaders_orders"
    __table_args__ = (
        tenant_fk(["order_id"], "orders"),
        tenant_fk(["leader_id"], "leaders_leaders"),
        tenant_fk(["member_id"], "members"),
        UniqueConstraint("tenant_id", "order_id"),
        Index("ix_leaders_orders_tenant_leader", "tenant_id", "leader_id", "id"),
    )

    order_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    leader_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))  # the buyer
    via: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
