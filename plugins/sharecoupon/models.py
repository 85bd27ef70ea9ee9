"""The share coupon's tables: campaigns, the packs paid orders unlock, the friends' claims,
the members a share brought in, and the sharers' rewards.

The counts the rules run on move only by conditional UPDATEs: a pack's ``claimed`` never
passes its ``size`` (the last coupon goes to one friend), a campaign's ``packs_issued`` and
``claims`` never pass its budget. A pack holds no coupons of its own: each claim issues one
from the campaign's template through the core coupons engine, so "the pack's count equals the
coupons issued" is one claim row per coupon, and voiding a pack is refusing further claims.

``*_day`` columns hold the China Standard Time date of the event (``YYYY-MM-DD``), so the
per-day figures are one portable GROUP BY on either backend.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import conv

from core.db import ID_LENGTH, Base, TenantScoped, tenant_fk, utcnow

CAMPAIGN_STATUSES = ("active", "stopped")
TRIGGERS = ("order", "manual")  # a paid order at or above a threshold | a member's tap
CLAIMERS = ("anyone", "new_members", "dormant")
REWARD_KINDS = ("", "coupon", "points")  # "": no reward
REWARD_WHEN = ("claims", "first_use")  # K friends claimed | the first friend paid with one
# active: friends may claim until expires_at; void: the triggering order was refunded in full.
PACK_STATUSES = ("active", "void")
# pending: not earned yet; granted: given, once; cancelled: the triggering order was refunded.
REWARD_STATUSES = ("pending", "granted", "cancelled")
DAY_LENGTH = 10  # "2026-12-03"


def _to_campaign(table: str) -> ForeignKeyConstraint:
    """``tenant_fk`` to the campaigns, named short: the convention's name would pass
    PostgreSQL's 63 characters."""
    return ForeignKeyConstraint(
        ["tenant_id", "campaign_id"],
        ["sharecoupon_campaigns.tenant_id", "sharecoupon_campaigns.id"],
        name=conv(f"fk_{table}_campaign"),
    )


class ShareCampaign(TenantScoped, Base):
    __tablename__ = "sharecoupon_campaigns"
    __table_args__ = (
        tenant_fk(["template_id"], "coupon_templates"),
        ForeignKeyConstraint(
            ["tenant_id", "reward_template_id"],
            ["coupon_templates.tenant_id", "coupon_templates.id"],
            name=conv("fk_sharecoupon_campaigns_reward_template"),
        ),
        CheckConstraint("pack_size >= 1 AND pack_size <= 100", name="pack_size"),
        CheckConstraint("max_packs IS NULL OR packs_issued <= max_packs", name="packs_budget"),
        CheckConstraint("max_claims IS NULL OR claims <= max_claims", name="claims_budget"),
        CheckConstraint("packs_issued >= 0 AND claims >= 0", name="counts"),
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="window"),
        Index("ix_sharecoupon_campaigns_tenant_status", "tenant_id", "status", "trigger"),
    )

    title: Mapped[str] = mapped_column(String(40))
    template_id: Mapped[str] = mapped_column(String(ID_LENGTH))  # the friends' coupon
    pack_size: Mapped[int]
    trigger: Mapped[str] = mapped_column(String(8), default="order")
    min_order_amount: Mapped[int] = mapped_column(default=0)  # fen paid, for "order"
    # Only orders with a line of one of these (empty: any order); categories include their
    # subcategories.
    product_ids: Mapped[list[Any]] = mapped_column(default=list)
    category_ids: Mapped[list[Any]] = mapped_column(default=list)
    claimers: Mapped[str] = mapped_column(String(12), default="anyone")
    dormant_days: Mapped[int] = mapped_column(default=0)  # for "dormant": no paid order since
    one_per_campaign: Mapped[bool] = mapped_column(default=True)
    pack_valid_hours: Mapped[int] = mapped_column(default=24)
    coupon_valid_days: Mapped[int | None] = mapped_column(default=None)  # None: the template's
    max_packs: Mapped[int | None] = mapped_column(default=None)  # None: no budget
    max_claims: Mapped[int | None] = mapped_column(default=None)
    reward_kind: Mapped[str] = mapped_column(String(8), default="")
    reward_template_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    reward_points: Mapped[int] = mapped_column(default=0)
    reward_when: Mapped[str] = mapped_column(String(10), default="claims")
    reward_claims: Mapped[int] = mapped_column(default=0)  # K, for "claims"
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(8), default="active")
    packs_issued: Mapped[int] = mapped_column(default=0)
    claims: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(default=None)


class SharePack(TenantScoped, Base):
    """N coupons a member may share. Its share token is never stored: ``token_hash`` is the
    SHA-256 of it, and the token itself is an HMAC of the pack and ``nonce`` under the
    deployment's secret, so the sharer gets the same token back each time they share."""

    __tablename__ = "sharecoupon_packs"
    __table_args__ = (
        _to_campaign(__tablename__),
        tenant_fk(["sharer_id"], "members"),
        tenant_fk(["order_id"], "orders"),
        UniqueConstraint("tenant_id", "order_id"),  # one pack per order, whatever retries
        UniqueConstraint("tenant_id", "campaign_id", "manual_key"),  # one tap per member
        UniqueConstraint("tenant_id", "token_hash"),
        CheckConstraint("claimed >= 0 AND claimed <= size", name="claimed_within_size"),
        Index("ix_sharecoupon_packs_tenant_sharer", "tenant_id", "sharer_id"),
        Index("ix_sharecoupon_packs_tenant_campaign_day", "tenant_id", "campaign_id", "day"),
    )

    campaign_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    sharer_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    order_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    manual_key: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    size: Mapped[int]
    claimed: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(8), default="active")
    nonce: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str | None] = mapped_column(String(64), default=None)  # set when shared
    expires_at: Mapped[datetime]
    day: Mapped[str] = mapped_column(String(DAY_LENGTH))
    shared_at: Mapped[datetime | None] = mapped_column(default=None)
    shared_day: Mapped[str | None] = mapped_column(String(DAY_LENGTH), default=None)
    voided_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShareClaim(TenantScoped, Base):
    """One friend's coupon from one pack. ``once_key`` is the member's id when the campaign
    allows one claim per member (NULL otherwise), so the unique key on it is what stops a
    member claiming twice in a campaign from two packs at once. ``order_id`` is the paid
    order the coupon was used on (what analytics counts as the share coupon's GMV)."""

    __tablename__ = "sharecoupon_claims"
    __table_args__ = (
        tenant_fk(["pack_id"], "sharecoupon_packs"),
        _to_campaign(__tablename__),
        tenant_fk(["member_id"], "members"),
        tenant_fk(["coupon_id"], "member_coupons"),
        tenant_fk(["order_id"], "orders"),
        UniqueConstraint("tenant_id", "pack_id", "member_id"),
        UniqueConstraint("tenant_id", "campaign_id", "once_key"),
        UniqueConstraint("tenant_id", "coupon_id"),
        Index("ix_sharecoupon_claims_tenant_campaign_day", "tenant_id", "campaign_id", "day"),
        Index("ix_sharecoupon_claims_tenant_order", "tenant_id", "order_id"),
        Index("ix_sharecoupon_claims_tenant_member", "tenant_id", "member_id"),
    )

    pack_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    campaign_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    coupon_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    once_key: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    new_member: Mapped[bool] = mapped_column(default=False)  # registered through this share
    day: Mapped[str] = mapped_column(String(DAY_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The paid order the coupon was used on, what the buyer paid and what the coupon took off.
    order_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    order_amount: Mapped[int] = mapped_column(default=0)
    discount: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    used_day: Mapped[str | None] = mapped_column(String(DAY_LENGTH), default=None)


class ShareReferral(TenantScoped, Base):
    """A member registered by opening a share: who shared, which pack."""

    __tablename__ = "sharecoupon_referrals"
    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        tenant_fk(["sharer_id"], "members"),
        tenant_fk(["pack_id"], "sharecoupon_packs"),
        _to_campaign(__tablename__),
        UniqueConstraint("tenant_id", "member_id"),
        Index("ix_sharecoupon_referrals_tenant_campaign_day", "tenant_id", "campaign_id", "day"),
    )

    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    sharer_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    pack_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    campaign_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    day: Mapped[str] = mapped_column(String(DAY_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShareReward(TenantScoped, Base):
    """The sharer's reward for one pack, written with the pack when the campaign has one.
    ``pending → granted`` and ``pending → cancelled`` are conditional UPDATEs, so it is given
    at most once and never after the triggering order was refunded."""

    __tablename__ = "sharecoupon_rewards"
    __table_args__ = (
        tenant_fk(["pack_id"], "sharecoupon_packs"),
        _to_campaign(__tablename__),
        tenant_fk(["sharer_id"], "members"),
        tenant_fk(["coupon_id"], "member_coupons"),
        UniqueConstraint("tenant_id", "pack_id"),
        Index("ix_sharecoupon_rewards_tenant_campaign", "tenant_id", "campaign_id", "status"),
    )

    pack_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    campaign_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    sharer_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(8))  # coupon | points
    status: Mapped[str] = mapped_column(String(10), default="pending")
    coupon_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    points: Mapped[int] = mapped_column(default=0)
    value: Mapped[int] = mapped_column(default=0)  # fen: the reward coupon's face value
    granted_at: Mapped[datetime | None] = mapped_column(default=None)
    granted_day: Mapped[str | None] = mapped_column(String(DAY_LENGTH), default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
