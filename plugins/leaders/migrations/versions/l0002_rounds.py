"""leaders plugin: group rounds, their items, each leader's delivery

Revision ID: l0002_rounds
Revises: l0001_leaders
Create Date: 2026-11-23 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db
from core.tenancy.rls import enable_tenant_rls

revision: str = "l0002_rounds"
down_revision: str | Sequence[str] | None = "l0001_leaders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("leaders_rounds", "leaders_round_items", "leaders_deliveries")


def upgrade() -> None:
    op.create_table(
        "leaders_rounds",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("starts_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("cutoff_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("delivery_date", sa.Date(), nullable=False),
        sa.Column("closed_early_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("cutoff_at > starts_at", name=op.f("ck_leaders_rounds_window")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_leaders_rounds_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_leaders_rounds")),
    )
    op.create_index(
        "ix_leaders_rounds_tenant_cutoff",
        "leaders_rounds",
        ["tenant_id", "cutoff_at"],
        unique=False,
    )
    op.create_table(
        "leaders_deliveries",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("round_id", sa.String(length=26), nullable=False),
        sa.Column("leader_id", sa.String(length=26), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("arrived_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "leader_id"],
            ["leaders_leaders.tenant_id", "leaders_leaders.id"],
            name=op.f("fk_leaders_deliveries_tenant_id_leader_id_leaders_leaders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "round_id"],
            ["leaders_rounds.tenant_id", "leaders_rounds.id"],
            name=op.f("fk_leaders_deliveries_tenant_id_round_id_leaders_rounds"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_leaders_deliveries_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_leaders_deliveries")),
        sa.UniqueConstraint(
            "tenant_id",
            "round_id",
            "leader_id",
            name=op.f("uq_leaders_deliveries_tenant_id_round_id_leader_id"),
        ),
    )
    op.create_table(
        "leaders_round_items",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("round_id", sa.String(length=26), nullable=False),
        sa.Column("product_id", sa.String(length=26), nullable=False),
        sa.Column("sku_id", sa.String(length=26), nullable=False),
        sa.Column("round_price", sa.Integer(), nullable=False),
        sa.CheckConstraint("round_price >= 1", name=op.f("ck_leaders_round_items_price_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["products.tenant_id", "products.id"],
            name=op.f("fk_leaders_round_items_tenant_id_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "round_id"],
            ["leaders_rounds.tenant_id", "leaders_rounds.id"],
            name=op.f("fk_leaders_round_items_tenant_id_round_id_leaders_rounds"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sku_id"],
            ["skus.tenant_id", "skus.id"],
            name=op.f("fk_leaders_round_items_tenant_id_sku_id_skus"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_leaders_round_items_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_leaders_round_items")),
        sa.UniqueConstraint(
            "tenant_id",
            "round_id",
            "sku_id",
            name=op.f("uq_leaders_round_items_tenant_id_round_id_sku_id"),
        ),
    )
    for table in TENANT_TABLES:
        enable_tenant_rls(table)
    # A round's order names its round (existing orders belong to none).
    with op.batch_alter_table("leaders_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("round_id", sa.String(length=26), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_leaders_orders_tenant_id_round_id_leaders_rounds"),
            "leaders_rounds",
            ["tenant_id", "round_id"],
            ["tenant_id", "id"],
        )
        batch_op.create_index(
            "ix_leaders_orders_tenant_round", ["tenant_id", "round_id", "leader_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("leaders_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_leaders_orders_tenant_round")
        batch_op.drop_constraint(
            op.f("fk_leaders_orders_tenant_id_round_id_leaders_rounds"), type_="foreignkey"
        )
        batch_op.drop_column("round_id")
    op.drop_table("leaders_deliveries")
    op.drop_table("leaders_round_items")
    op.drop_table("leaders_rounds")
