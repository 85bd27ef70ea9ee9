"""The group-buy's tables: activities with their SKUs' group prices, teams, and the members
of each team (one row per order that holds or paid a place).

The counts on a team are the truth the rules run on, and only conditional UPDATEs move them:
``seats`` (places held by unpaid orders plus paid ones) never passes ``size``, so two buyers
racing for the last place cannot both get it; ``paid`` reaching ``size`` is the success.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantScoped, tenant_fk, utcnow

# An activity is ``active`` until the merchant stops it; it sells between starts_at and ends_at.
ACTIVITY_STATUSES = ("active", "stopped")
# opening: the leader's order awaits payment (not joinable, not shown)
# forming: the leader paid; others may join until expires_at
# succeeded / failed: final; cancelled: the leader never paid
TEAM_STATUSES = ("opening", "forming", "succeeded", "failed", "cancelled")
OPEN_TEAM = ("opening", "forming")
# held: the order awaits payment and holds a place; paid: in the team;
# released: the unpaid order was cancelled; left: refunded before the team succeeded;
# failed: the team failed and the order is refunded (or cancelled, if it was unpaid).
MEMBER_STATUSES = ("held", "paid", "released", "left", "failed")
IN_TEAM = ("held", "paid")


class GroupActivity(TenantScoped, Base):
    __tablename__ = "groupbuy_activities"
    __table_args__ = (
        tenant_fk(["product_id"], "products"),
        CheckConstraint("ends_at > starts_at", name="window"),
        CheckConstraint("team_size >= 2 AND team_size <= 100", name="team_size"),
        CheckConstraint("time_limit_minutes >= 5", name="time_limit"),
        CheckConstraint("order_limit >= 1 AND member_limit >= 0", name="limits"),
        CheckConstraint(
            "virtual_percent IS NULL OR (virtual_percent >= 1 AND virtual_percent <= 99)",
            name="virtual_percent",
        ),
        Index("ix_groupbuy_activities_tenant_product", "tenant_id", "product_id", "status"),
        Index("ix_groupbuy_activities_tenant_window", "tenant_id", "status", "ends_at"),
    )

    product_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    title: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(12), default="active")
    team_size: Mapped[int]
    time_limit_minutes: Mapped[int]  # a team forms for this long after the leader paid
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    order_limit: Mapped[int] = mapped_column(default=1)  # units per order
    member_limit: Mapped[int] = mapped_column(default=0)  # units per member in total; 0: none
    allow_solo: Mapped[bool] = mapped_column(default=True)  # buy alone at the normal price
    # Virtual completion: at expiry a team whose paid members reach this percent of its size
    # is completed with placeholders. None: off.
    virtual_percent: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(default=None)


class GroupItem(TenantScoped, Base):
    """One SKU of an activity at its group price."""

    __tablename__ = "groupbuy_items"
    __table_args__ = (
        tenant_fk(["activity_id"], "groupbuy_activities", ondelete="CASCADE"),
        tenant_fk(["sku_id"], "skus"),
        UniqueConstraint("tenant_id", "activity_id", "sku_id"),
        CheckConstraint("group_price >= 1", name="price_positive"),
    )

    activity_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    sku_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    group_price: Mapped[int]  # fen


class GroupTeam(TenantScoped, Base):
    __tablename__ = "groupbuy_teams"
    __table_args__ = (
        tenant_fk(["activity_id"], "groupbuy_activities"),
        tenant_fk(["leader_id"], "members"),
        CheckConstraint("seats >= 0 AND seats <= size", name="seats_within_size"),
        CheckConstraint("paid >= 0 AND paid <= seats", name="paid_within_seats"),
        CheckConstraint("placeholders >= 0 AND paid + placeholders <= size", name="placeholders"),
        Index("ix_groupbuy_teams_tenant_activity", "tenant_id", "activity_id", "status"),
        Index("ix_groupbuy_teams_tenant_product", "tenant_id", "product_id", "status"),
        Index("ix_groupbuy_teams_tenant_expiry", "tenant_id", "status", "expires_at"),
    )

    activity_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    product_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    leader_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    status: Mapped[str] = mapped_column(String(12), default="opening")
    size: Mapped[int]  # the activity's team size when the team opened
    seats: Mapped[int] = mapped_column(default=0)  # places held or paid
    paid: Mapped[int] = mapped_column(default=0)  # places paid
    placeholders: Mapped[int] = mapped_column(default=0)  # filled by virtual completion
    # Copied from the activity when the team opened, so a later edit cannot change a promise.
    time_limit_minutes: Mapped[int]
    virtual_percent: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(default=None)  # the leader paid
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    close_reason: Mapped[str] = mapped_column(String(40), default="")


class GroupMember(TenantScoped, Base):
    """One order's place in a team."""

    __tablename__ = "groupbuy_members"
    __table_args__ = (
        tenant_fk(["team_id"], "groupbuy_teams"),
        tenant_fk(["activity_id"], "groupbuy_activities"),
        tenant_fk(["member_id"], "members"),
        tenant_fk(["order_id"], "orders"),
        UniqueConstraint("tenant_id", "order_id"),
        # One open team per member and activity: ``open_activity`` is the activity while the
        # place is held or paid in a team still opening or forming, and NULL after (NULLs
        # never clash), so the database refuses a second one even to concurrent requests.
        UniqueConstraint("tenant_id", "member_id", "open_activity"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_groupbuy_members_tenant_team", "tenant_id", "team_id", "status"),
        Index("ix_groupbuy_members_tenant_member", "tenant_id", "member_id", "activity_id"),
    )

    team_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    activity_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    order_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    sku_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    quantity: Mapped[int]
    is_leader: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default="held")
    open_activity: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)  # released, left, failed
