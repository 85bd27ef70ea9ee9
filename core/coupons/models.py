"""Coupon templates a merchant designs, and the coupons members hold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantScoped, tenant_fk, utcnow

# fixed: amount off; percent: percent_off with an optional cap; threshold: amount off once
# min_spend is reached (满减); free_shipping: the chosen delivery's fee.
COUPON_KINDS = ("fixed", "percent", "threshold", "free_shipping")
SCOPES = ("all", "categories", "products")
# available → locked (an unpaid order holds it) → used (the order was paid); a cancelled or
# wholly refunded order gives it back (available). Expiry is read from valid_until.
MEMBER_COUPON_STATES = ("available", "locked", "used")


class CouponTemplate(TenantScoped, Base):
    __tablename__ = "coupon_templates"
    __table_args__ = (
        CheckConstraint("total_stock IS NULL OR issued_count <= total_stock", name="stock"),
        CheckConstraint("issued_count >= 0 AND used_count >= 0", name="counts"),
        Index("ix_coupon_templates_tenant_status", "tenant_id", "status"),
    )

    name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(default=0)  # fen off (fixed, threshold)
    percent_off: Mapped[int] = mapped_column(default=0)  # 1..99 (percent)
    max_discount: Mapped[int | None] = mapped_column(default=None)  # fen cap (percent)
    min_spend: Mapped[int] = mapped_column(default=0)  # fen of in-scope lines needed
    scope: Mapped[str] = mapped_column(String(16), default="all")
    scope_ids: Mapped[list[Any]] = mapped_column(default=list)  # category or product ids
    # Validity: fixed dates, or valid_days after the claim (then valid_from/until are unset).
    valid_from: Mapped[datetime | None] = mapped_column(default=None)
    valid_until: Mapped[datetime | None] = mapped_column(default=None)
    valid_days: Mapped[int | None] = mapped_column(default=None)
    total_stock: Mapped[int | None] = mapped_column(default=None)  # None: unlimited
    per_member_limit: Mapped[int] = mapped_column(default=1)
    claimable: Mapped[bool] = mapped_column(default=True)  # members may claim it themselves
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | stopped
    issued_count: Mapped[int] = mapped_column(default=0)
    used_count: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MemberCoupon(TenantScoped, Base):
    __tablename__ = "member_coupons"
    __table_args__ = (
        tenant_fk(["template_id"], "coupon_templates"),
        tenant_fk(["member_id"], "members"),
        Index("ix_member_coupons_tenant_member_status", "tenant_id", "member_id", "status"),
        Index("ix_member_coupons_tenant_template_member", "tenant_id", "template_id", "member_id"),
        Index("ix_member_coupons_tenant_order", "tenant_id", "order_id"),
        # Coupons about to end, for the expiry notices.
        Index("ix_member_coupons_tenant_status_until", "tenant_id", "status", "valid_until"),
    )

    template_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="available")
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    order_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    source: Mapped[str] = mapped_column(String(40), default="claim")  # claim | issue | <plugin>
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_at: Mapped[datetime | None] = mapped_column(default=None)
    used_at: Mapped[datetime | None] = mapped_column(default=None)
