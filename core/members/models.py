"""Members (buyers) of one store, their addresses, levels and refresh sessions."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantScoped, tenant_fk, utcnow


class MemberLevel(TenantScoped, Base):
    __tablename__ = "member_levels"
    __table_args__ = (UniqueConstraint("tenant_id", "threshold"),)

    name: Mapped[str] = mapped_column(String(40))
    threshold: Mapped[int]  # cumulative paid spend in fen that reaches this level
    discount_percent: Mapped[int] = mapped_column(default=0)  # percent off, 0..100


class Member(TenantScoped, Base):
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("tenant_id", "openid"),
        tenant_fk(["level_id"], "member_levels"),
    )

    openid: Mapped[str] = mapped_column(String(64))
    unionid: Mapped[str | None] = mapped_column(String(64), default=None)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    nickname: Mapped[str] = mapped_column(String(64), default="")
    avatar_url: Mapped[str] = mapped_column(String(500), default="")
    gender: Mapped[int] = mapped_column(default=0)  # 0 unknown, 1 male, 2 female (WeChat's)
    birthday: Mapped[date | None] = mapped_column(Date, default=None)
    level_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    total_paid: Mapped[int] = mapped_column(default=0)  # fen, drives the level
    # How the member first arrived: direct | share | scan | leader, and its reference.
    source: Mapped[str] = mapped_column(String(16), default="direct")
    source_ref: Mapped[str] = mapped_column(String(80), default="")
    tags: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime] = mapped_column(default=utcnow)


class Address(TenantScoped, Base):
    __tablename__ = "addresses"
    __table_args__ = (tenant_fk(["member_id"], "members"),)

    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(20))
    province: Mapped[str] = mapped_column(String(40))
    city: Mapped[str] = mapped_column(String(40))
    district: Mapped[str] = mapped_column(String(40), default="")
    detail: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemberSession(TenantScoped, Base):
    """A refresh token (hashed). Access tokens are short-lived signed tokens, checked without
    a query; refreshing checks this row, so signing out ends the session."""

    __tablename__ = "member_sessions"
    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        UniqueConstraint("tenant_id", "refresh_hash"),
    )

    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    refresh_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
