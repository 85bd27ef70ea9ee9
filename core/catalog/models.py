"""Catalog: a category tree, products (SPU) and their SKUs. Stock lives on the SKU row so the
reservation is one conditional UPDATE (see core/inventory)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantScoped, tenant_fk, utcnow


class Category(TenantScoped, Base):
    __tablename__ = "categories"
    __table_args__ = (tenant_fk(["parent_id"], "categories"),)

    name: Mapped[str] = mapped_column(String(60))
    parent_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    sort: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Product(TenantScoped, Base):
    __tablename__ = "products"
    __table_args__ = (
        tenant_fk(["category_id"], "categories"),
        Index("ix_products_tenant_status_sort", "tenant_id", "status", "sort"),
        # Keyword search on PostgreSQL: trigram GIN (works for Chinese, which the full-text
        # parser does not segment). On SQLite this is a plain index and search uses LIKE.
        Index(
            "ix_products_title_trgm",
            "title",
            postgresql_using="gin",
            postgresql_ops={"title": "gin_trgm_ops"},
        ),
    )

    title: Mapped[str] = mapped_column(String(120))
    subtitle: Mapped[str] = mapped_column(String(200), default="")
    images: Mapped[list[str]] = mapped_column(default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    status: Mapped[str] = mapped_column(String(8), default="off")  # on | off (shelf)
    sort: Mapped[int] = mapped_column(default=0)
    tags: Mapped[list[str]] = mapped_column(default=list)
    # Units sold, kept up to date when orders are paid; drives "sort by sales".
    sales: Mapped[int] = mapped_column(default=0)
    # The lowest SKU price, kept by the catalog service; drives "sort by price".
    min_price: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Sku(TenantScoped, Base):
    __tablename__ = "skus"
    __table_args__ = (
        tenant_fk(["product_id"], "products"),
        UniqueConstraint("tenant_id", "barcode"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("safety_stock >= 0", name="safety_stock_not_negative"),
        Index("ix_skus_tenant_product", "tenant_id", "product_id"),
    )

    product_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    # Spec values, e.g. {"颜色": "红", "尺码": "M"}.
    specs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    price: Mapped[int]  # fen
    list_price: Mapped[int | None] = mapped_column(default=None)  # fen, the crossed-out price
    barcode: Mapped[str | None] = mapped_column(String(64), default=None)
    weight_g: Mapped[int] = mapped_column(default=0)
    stock: Mapped[int] = mapped_column(default=0)
    # The storefront sells only stock above this (kept back for the shop floor, breakage).
    safety_stock: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
