"""The community leaders' tables: the leaders (an application until the merchant approves
it), the buyers bound to them, the leader of each order, and the group rounds (团购期) with
their items and each leader's delivery.

A member has at most one leader row (``(tenant_id, member_id)`` is unique) and at most one
binding; the unique keys decide races (two first visits of one buyer through two links bind
once). ``leaders_orders`` records which leader an order counts for: the leader of the pickup
point it goes to, else the buyer's bound leader; it is what commission and the merchant's
GMV through leaders are counted from.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantScoped, tenant_fk, utcnow

# applied → active (approved, with a pickup point) | rejected (may apply again);
# active ⇄ suspended; active | suspended → ended (final).
LEADER_STATUSES = ("applied", "active", "rejected", "suspended", "ended")
# How a buyer was bound: signed up through the leader's link, or opened it later.
BINDING_SOURCES = ("register", "link")
# Why an order counts for its leader: picked up at the leader's point, or a bound buyer's.
ORDER_VIA = ("point", "binding")
# A leader's share of a round waits for the goods, then the leader confirms they arrived.
DELIVERY_STATUSES = ("pending", "arrived")


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
    """The leader an order counts for, written when the order is placed; a round's order
    names its round."""

    __tablename__ = "leaders_orders"
    __table_args__ = (
        tenant_fk(["order_id"], "orders"),
        tenant_fk(["leader_id"], "leaders_leaders"),
        tenant_fk(["member_id"], "members"),
        tenant_fk(["round_id"], "leaders_rounds"),
        UniqueConstraint("tenant_id", "order_id"),
        Index("ix_leaders_orders_tenant_leader", "tenant_id", "leader_id", "id"),
        Index("ix_leaders_orders_tenant_round", "tenant_id", "round_id", "leader_id"),
    )

    order_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    leader_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))  # the buyer
    via: Mapped[str] = mapped_column(String(12))
    round_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeaderRound(TenantScoped, Base):
    """A group round (团购期): its items sell at round prices from ``starts_at`` until
    ``cutoff_at``; the goods reach the leaders' points on ``delivery_date`` (local)."""

    __tablename__ = "leaders_rounds"
    __table_args__ = (
        CheckConstraint("cutoff_at > starts_at", name="window"),
        Index("ix_leaders_rounds_tenant_cutoff", "tenant_id", "cutoff_at"),
    )

    title: Mapped[str] = mapped_column(String(60))
    starts_at: Mapped[datetime]
    cutoff_at: Mapped[datetime]
    delivery_date: Mapped[date] = mapped_column(Date)
    closed_early_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LeaderRoundItem(TenantScoped, Base):
    __tablename__ = "leaders_round_items"
    __table_args__ = (
        tenant_fk(["round_id"], "leaders_rounds"),
        tenant_fk(["product_id"], "products"),
        tenant_fk(["sku_id"], "skus"),
        UniqueConstraint("tenant_id", "round_id", "sku_id"),
        CheckConstraint("round_price >= 1", name="price_positive"),
    )

    round_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    product_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    sku_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    round_price: Mapped[int]  # fen


class LeaderDelivery(TenantScoped, Base):
    """One leader's share of one round (a row appears with the first order for that leader):
    whether its goods arrived at the leader's point. Its orders keep their pickup codes back
    (``fulfillment_hold = "leaders"``) until the leader confirms the arrival."""

    __tablename__ = "leaders_deliveries"
    __table_args__ = (
        tenant_fk(["round_id"], "leaders_rounds"),
        tenant_fk(["leader_id"], "leaders_leaders"),
        UniqueConstraint("tenant_id", "round_id", "leader_id"),
    )

    round_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    leader_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    arrived_at: Mapped[datetime | None] = mapped_column(default=None)
    confirmed_by: Mapped[str] = mapped_column(String(80), default="")  # member:<id> | staff:<id>
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
