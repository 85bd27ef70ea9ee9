from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantScoped


class EchoCharge(TenantScoped, Base):
    """A stand-in for a money-moving row: the idempotency tests count these."""

    __tablename__ = "echo_charges"

    amount: Mapped[int]
    note: Mapped[str] = mapped_column(String(100), default="")
