"""points plugin: accounts, lots, the ledger, orders' points and the catalogue

Revision ID: p0001_points
Revises:
Create Date: 2026-11-22 03:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.db
from core.tenancy.rls import enable_tenant_rls

revision: str = "p0001_points"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("points",)
depends_on: str | Sequence[str] | None = "0003_payments"

TENANT_TABLES = (
    "points_accounts",
    "points_lots",
    "points_entries",
    "points_orders",
    "points_catalog",
)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants")
    )


def _member_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "member_id"],
        ["members.tenant_id", "members.id"],
        name=op.f(f"fk_{table}_tenant_id_member_id_members"),
    )


def upgrade() -> None:
    op.create_table(
        "points_accounts",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("member_id", sa.String(length=26), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("streak", sa.Integer(), nullable=False),
        sa.Column("last_checkin", sa.Date(), nullable=True),
        sa.Column("first_order_id", sa.String(length=26), nullable=False),
        sa.Column("registered_bonus", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        _member_fk("points_accounts"),
        _tenant_fk("points_accounts"),
        sa.PrimaryKeyConstraint("tenant_id", "member_id", name=op.f("pk_points_accounts")),
    )
    op.create_table(
        "points_lots",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("member_id", sa.String(length=26), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("ref_type", sa.String(length=16), nullable=False),
        sa.Column("ref_id", sa.String(length=80), nullable=False),
        sa.Column("earned_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("noticed_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("points > 0", name=op.f("ck_points_lots_points_positive")),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= points", name=op.f("ck_points_lots_remaining_within")
        ),
        _member_fk("points_lots"),
        _tenant_fk("points_lots"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_points_lots")),
    )
    op.create_index(
        "ix_points_lots_tenant_member",
        "points_lots",
        ["tenant_id", "member_id", "status", "expires_at"],
        unique=False,
    )
    op.create_index(
        "ix_points_lots_tenant_expiry",
        "points_lots",
        ["tenant_id", "status", "expires_at"],
        unique=False,
    )
    op.create_table(
        "points_entries",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("member_id", sa.String(length=26), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("balance_after", sa.Integer(), nullable=False),
        sa.Column("ref_type", sa.String(length=16), nullable=False),
        sa.Column("ref_id", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        _member_fk("points_entries"),
        _tenant_fk("points_entries"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_points_entries")),
    )
    op.create_index(
        "ix_points_entries_tenant_member",
        "points_entries",
        ["tenant_id", "member_id", "id"],
        unique=False,
    )
    op.create_index(
        "ix_points_entries_tenant_kind",
        "points_entries",
        ["tenant_id", "kind", "created_at"],
        unique=False,
    )
    op.create_table(
        "points_orders",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("order_id", sa.String(length=26), nullable=False),
        sa.Column("member_id", sa.String(length=26), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("deduction", sa.Integer(), nullable=False),
        sa.Column("use_status", sa.String(length=10), nullable=False),
        sa.Column("allocations", JSON, nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.Column("earned", sa.Integer(), nullable=False),
        sa.Column("earn_lot_id", sa.String(length=26), nullable=False),
        sa.Column("reversed", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "used >= 0 AND returned >= 0 AND returned <= used",
            name=op.f("ck_points_orders_used_within"),
        ),
        sa.CheckConstraint(
            "earned >= 0 AND reversed >= 0 AND reversed <= earned",
            name=op.f("ck_points_orders_earned_within"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["orders.tenant_id", "orders.id"],
            name=op.f("fk_points_orders_tenant_id_order_id_orders"),
        ),
        _tenant_fk("points_orders"),
        sa.PrimaryKeyConstraint("tenant_id", "order_id", name=op.f("pk_points_orders")),
    )
    op.create_table(
        "points_catalog",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("template_id", sa.String(length=26), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("cost > 0", name=op.f("ck_points_catalog_cost_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "template_id"],
            ["coupon_templates.tenant_id", "coupon_templates.id"],
            name=op.f("fk_points_catalog_tenant_id_template_id_coupon_templates"),
        ),
        _tenant_fk("points_catalog"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_points_catalog")),
    )
    for table in TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    op.drop_table("points_catalog")
    op.drop_table("points_orders")
    op.drop_index("ix_points_entries_tenant_kind", table_name="points_entries")
    op.drop_index("ix_points_entries_tenant_member", table_name="points_entries")
    op.drop_table("points_entries")
    op.drop_index("ix_points_lots_tenant_expiry", table_name="points_lots")
    op.drop_index("ix_points_lots_tenant_member", table_name="points_lots")
    op.drop_table("points_lots")
    op.drop_table("points_accounts")
