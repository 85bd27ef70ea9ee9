"""The stamp card's tables: a member's cards, one open at a time, and the stamps on them.

A stamp is unique per (source, ref): an order earns at most one however often its payment is
reported, and a counter stamp's ref is the id of the request that made it. A card's count
moves only under the member's row lock, so two stamps never both take the last place on it.
"""

from __future__ import annotations

from datetime import datetime

from core.db import ID_LENGTH, Base, TenantScoped, tenant_fk, utcnow
from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

CARD_STATUSES = ("open", "full")
STAMP_SOURCES = ("order", "counter")  # a paid order | a clerk at the counter
STAMP_STATUSES = ("given", "revoked")  # revoked: its order was refunded while the card was open
CODE_LENGTH = 40


class StampCard(TenantScoped, Base):
    __tablename__ = "stampcard_cards"
    __table_args__ = (
        UniqueConstraint("tenant_id", "member_id", "number"),
        tenant_fk(["member_id"], "members"),
        CheckConstraint("stamps >= 0 AND stamps <= needed", name="stamps_in_range"),
        CheckConstraint("status IN ('open', 'full')", name="status_known"),
        Index("ix_stampcard_cards_reward_due", "tenant_id", "status", "reward_error"),
    )

    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    number: Mapped[int]  # the member's 1st, 2nd, ... card
    needed: Mapped[int]  # the settings' stamps_needed when the card was opened
    stamps: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(8), default="open")
    coupon_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))  # the reward issued
    # Why the reward could not be issued yet (a coupon error code); retried hourly.
    reward_error: Mapped[str] = mapped_column(String(CODE_LENGTH), default="")
    filled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Stamp(TenantScoped, Base):
    __tablename__ = "stampcard_stamps"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "ref"),
        tenant_fk(["card_id"], "stampcard_cards"),
        tenant_fk(["member_id"], "members"),
        Index("ix_stampcard_stamps_card", "tenant_id", "card_id"),
    )

    card_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    source: Mapped[str] = mapped_column(String(8))
    ref: Mapped[str] = mapped_column(String(ID_LENGTH))  # the order id, or the request's id
    status: Mapped[str] = mapped_column(String(8), default="given")
    given_by: Mapped[str] = mapped_column(String(ID_LENGTH), default="")  # the clerk, if any
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
