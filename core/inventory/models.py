"""The stock ledger: every change to a SKU's stock, with its reason and reference."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantScoped, tenant_fk, utcnow


class StockMovement(TenantScoped, Base):
    __tablename__ = "stock_movements"
    __table_args__ = (
        tenant_fk(["sku_id"], "skus"),
        Index("ix_stock_movements_tenant_sku", "tenant_id", "sku_id"),
    )

    sku_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    delta: Mapped[int]
    balance: Mapped[int]  # stock after this movement
    # order_reserve | order_release | erp_set | erp_delta | manual | refund_return | ...
    reason: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(80), default="")  # order id, ERP batch key, staff id
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
