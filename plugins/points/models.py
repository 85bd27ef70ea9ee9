"""The points tables: one account row per member (the lock every balance change takes), the
lots points are earned in, the append-only ledger, the points each order used and earned,
and the merchant's catalogue of coupons to exchange points for.

The balance is the sum of ``remaining`` over a member's active lots that have not expired;
it is computed from the lots under the account's row lock, never kept in a counter, so it
cannot drift. ``remaining >= 0`` is checked by the database as the last guard.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantOwned, TenantScoped, tenant_fk, utcnow

# Ledger kinds: positive earn/reverse-of-a-use, negative redeem/expire/reverse-of-an-earn.
KINDS = ("earn", "redeem", "expire", "reverse", "adjust")


class PointsAccount(TenantOwned, Base):
    """A member's points state that is not in the lots; its row is the member's lock."""

    __tablename__ = "points_accounts"
    __table_args__ = (tenant_fk(["member_id"], "members"),)

    member_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    version: Mapped[int] = mapped_column(default=0)  # bumped to take the row lock
    streak: Mapped[int] = mapped_column(default=0)  # consecutive check-in days
    last_checkin: Mapped[date | None] = mapped_column(Date, default=None)  # China date
    first_order_id: Mapped[str] = mapped_column(String(ID_LENGTH), default="")
    registered_bonus: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PointsLot(TenantScoped, Base):
    """Points earned together with one expiry. ``pending`` lots (an order not completed yet)
    count for nothing until they become ``active``; ``void`` ones were reversed."""

    __tablename__ = "points_lots"
    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_within"),
        Index("ix_points_lots_tenant_member", "tenant_id", "member_id", "status", "expires_at"),
        Index("ix_points_lots_tenant_expiry", "tenant_id", "status", "expires_at"),
    )

    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    points: Mapped[int]
    remaining: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default="active")  # pending|active|void
    ref_type: Mapped[str] = mapped_column(String(16))  # order|register|checkin|staff|...
    ref_id: Mapped[str] = mapped_column(String(80), default="")
    earned_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)  # set when active
    noticed_at: Mapped[datetime | None] = mapped_column(default=None)  # "expiring soon" sent


class PointsEntry(TenantScoped, Base):
    """One line of the append-only ledger: never updated, never deleted."""

    __tablename__ = "points_entries"
    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        Index("ix_points_entries_tenant_member", "tenant_id", "member_id", "id"),
        Index("ix_points_entries_tenant_kind", "tenant_id", "kind", "created_at"),
    )

    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(10))
    points: Mapped[int]  # signed: + into the balance, - out of it
    balance_after: Mapped[int]
    ref_type: Mapped[str] = mapped_column(String(16))  # order|refund|campaign|staff|...
    ref_id: Mapped[str] = mapped_column(String(80), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    actor: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PointsOrder(TenantOwned, Base):
    """What one order used and earned, and how much of each refunds gave back."""

    __tablename__ = "points_orders"
    __table_args__ = (
        tenant_fk(["order_id"], "orders"),
        CheckConstraint("used >= 0 AND returned >= 0 AND returned <= used", name="used_within"),
        CheckConstraint(
            "earned >= 0 AND reversed >= 0 AND reversed <= earned", name="earned_within"
        ),
    )

    order_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    used: Mapped[int] = mapped_column(default=0)  # points taken for the deduction
    deduction: Mapped[int] = mapped_column(default=0)  # fen they took off
    use_status: Mapped[str] = mapped_column(String(10), default="none")  # held|taken|returned
    # {lot_id: points} the use came from, to give them back to the same lots.
    allocations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    returned: Mapped[int] = mapped_column(default=0)  # used points given back by refunds
    earned: Mapped[int] = mapped_column(default=0)
    earn_lot_id: Mapped[str] = mapped_column(String(ID_LENGTH), default="")
    reversed: Mapped[int] = mapped_column(default=0)  # earned points taken back by refunds
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PointsCatalogItem(TenantScoped, Base):
    """A coupon a member may exchange points for (the merchant's points catalogue)."""

    __tablename__ = "points_catalog"
    __table_args__ = (
        tenant_fk(["template_id"], "coupon_templates"),
        CheckConstraint("cost > 0", name="cost_positive"),
    )

    template_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    title: Mapped[str] = mapped_column(String(60))
    cost: Mapped[int]  # points
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
