"""flashsale plugin: activities, their items, flash orders and member counts

Revision ID: f0001_flashsale
Revises:
Create Date: 2026-11-22 01:30:56.682419
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.db
from core.tenancy.rls import enable_tenant_rls

revision: str = "f0001_flashsale"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("flashsale",)
depends_on: str | Sequence[str] | None = "0003_payments"

TENANT_TABLES = (
    "flashsale_activities",
    "flashsale_members",
    "flashsale_items",
    "flashsale_orders",
)


def upgrade() -> None:
    op.create_table(
        "flashsale_activities",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("starts_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("member_limit", sa.Integer(), nullable=False),
        sa.Column("order_limit", sa.Integer(), nullable=False),
        sa.Column("payment_window_minutes", sa.Integer(), nullable=True),
        sa.Column("published_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "reconcile",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_flashsale_activities_window")),
        sa.CheckConstraint(
            "member_limit >= 1 AND order_limit >= 1", name=op.f("ck_flashsale_activities_limits")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_flashsale_activities_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_flashsale_activities")),
    )
    op.create_index(
        "ix_flashsale_activities_tenant_status",
        "flashsale_activities",
        ["tenant_id", "status", "starts_at"],
        unique=False,
    )

    op.create_table(
        "flashsale_members",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("activity_id", sa.String(length=26), nullable=False),
        sa.Column("member_id", sa.String(length=26), nullable=False),
        sa.Column("bought", sa.Integer(), nullable=False),
        sa.CheckConstraint("bought >= 0", name=op.f("ck_flashsale_members_bought_not_negative")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "activity_id"],
            ["flashsale_activities.tenant_id", "flashsale_activities.id"],
            name=op.f("fk_flashsale_members_tenant_id_activity_id_flashsale_activities"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_flashsale_members_tenant_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_flashsale_members_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "activity_id", "member_id", name=op.f("pk_flashsale_members")
        ),
    )
    op.create_table(
        "flashsale_items",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("activity_id", sa.String(length=26), nullable=False),
        sa.Column("sku_id", sa.String(length=26), nullable=False),
        sa.Column("product_id", sa.String(length=26), nullable=False),
        sa.Column("flash_price", sa.Integer(), nullable=False),
        sa.Column("allotted", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.Column("paid", sa.Integer(), nullable=False),
        sa.Column("refunded", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Integer(), nullable=False),
        sa.CheckConstraint("flash_price >= 0", name=op.f("ck_flashsale_items_price_not_negative")),
        sa.CheckConstraint(
            "paid >= 0 AND refunded >= 0", name=op.f("ck_flashsale_items_counts_not_negative")
        ),
        sa.CheckConstraint(
            "sold >= 0 AND sold <= stock", name=op.f("ck_flashsale_items_sold_within_stock")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "activity_id"],
            ["flashsale_activities.tenant_id", "flashsale_activities.id"],
            name=op.f("fk_flashsale_items_tenant_id_activity_id_flashsale_activities"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sku_id"],
            ["skus.tenant_id", "skus.id"],
            name=op.f("fk_flashsale_items_tenant_id_sku_id_skus"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_flashsale_items_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_flashsale_items")),
        sa.UniqueConstraint(
            "tenant_id",
            "activity_id",
            "sku_id",
            name=op.f("uq_flashsale_items_tenant_id_activity_id_sku_id"),
        ),
    )
    op.create_index(
        "ix_flashsale_items_tenant_sku", "flashsale_items", ["tenant_id", "sku_id"], unique=False
    )

    op.create_table(
        "flashsale_orders",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("activity_id", sa.String(length=26), nullable=False),
        sa.Column("item_id", sa.String(length=26), nullable=False),
        sa.Column("sku_id", sa.String(length=26), nullable=False),
        sa.Column("member_id", sa.String(length=26), nullable=False),
        sa.Column("order_id", sa.String(length=26), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("refunded_quantity", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_flashsale_orders_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "activity_id"],
            ["flashsale_activities.tenant_id", "flashsale_activities.id"],
            name=op.f("fk_flashsale_orders_tenant_id_activity_id_flashsale_activities"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "item_id"],
            ["flashsale_items.tenant_id", "flashsale_items.id"],
            name=op.f("fk_flashsale_orders_tenant_id_item_id_flashsale_items"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["orders.tenant_id", "orders.id"],
            name=op.f("fk_flashsale_orders_tenant_id_order_id_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_flashsale_orders_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_flashsale_orders")),
        sa.UniqueConstraint(
            "tenant_id", "order_id", name=op.f("uq_flashsale_orders_tenant_id_order_id")
        ),
    )
    op.create_index(
        "ix_flashsale_orders_tenant_activity",
        "flashsale_orders",
        ["tenant_id", "activity_id", "status"],
        unique=False,
    )

    for table in TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    op.drop_index("ix_flashsale_orders_tenant_activity", table_name="flashsale_orders")
    op.drop_table("flashsale_orders")
    op.drop_index("ix_flashsale_items_tenant_sku", table_name="flashsale_items")
    op.drop_table("flashsale_items")
    op.drop_table("flashsale_members")
    op.drop_index("ix_flashsale_activities_tenant_status", table_name="flashsale_activities")
    op.drop_table("flashsale_activities")
