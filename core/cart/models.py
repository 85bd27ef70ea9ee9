"""One cart per member: its lines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantScoped, tenant_fk, utcnow


class CartLine(TenantScoped, Base):
    __tablename__ = "cart_lines"
    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        tenant_fk(["sku_id"], "skus"),
        # The same SKU under another activity (a flash sale, a group-buy) is another line.
        UniqueConstraint("tenant_id", "member_id", "sku_id", "activity"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    sku_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    quantity: Mapped[int]
    selected: Mapped[bool] = mapped_column(default=True)
    # "" for a plain line, else "<plugin>:<reference>" set by the plugin that owns it.
    activity: Mapped[str] = mapped_column(String(80), default="")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
