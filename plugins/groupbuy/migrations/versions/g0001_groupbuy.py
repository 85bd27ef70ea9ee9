"""groupbuy plugin: activities, items, teams and members

Revision ID: g0001_groupbuy
Revises:
Create Date: 2026-11-22 04:02:25.948951
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db
from core.tenancy.rls import enable_tenant_rls

revision: str = "g0001_groupbuy"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("groupbuy",)
depends_on: str | Sequence[str] | None = "0003_payments"

TENANT_TABLES = (
    "groupbuy_activities",
    "groupbuy_items",
    "groupbuy_teams",
    "groupbuy_members",
)


def upgrade() -> None:
    op.create_table(
        "groupbuy_activities",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("product_id", sa.String(length=26), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("team_size", sa.Integer(), nullable=False),
        sa.Column("time_limit_minutes", sa.Integer(), nullable=False),
        sa.Column("starts_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("order_limit", sa.Integer(), nullable=False),
        sa.Column("member_limit", sa.Integer(), nullable=False),
        sa.Column("allow_solo", sa.Boolean(), nullable=False),
        sa.Column("virtual_percent", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_groupbuy_activities_window")),
        sa.CheckConstraint(
            "order_limit >= 1 AND member_limit >= 0", name=op.f("ck_groupbuy_activities_limits")
        ),
        sa.CheckConstraint(
            "team_size >= 2 AND team_size <= 100", name=op.f("ck_groupbuy_activities_team_size")
        ),
        sa.CheckConstraint(
            "time_limit_minutes >= 5", name=op.f("ck_groupbuy_activities_time_limit")
        ),
        sa.CheckConstraint(
            "virtual_percent IS NULL OR (virtual_percent >= 1 AND virtual_percent <= 99)",
            name=op.f("ck_groupbuy_activities_virtual_percent"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["products.tenant_id", "products.id"],
            name=op.f("fk_groupbuy_activities_tenant_id_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_groupbuy_activities_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_groupbuy_activities")),
    )
    op.create_index(
        "ix_groupbuy_activities_tenant_product",
        "groupbuy_activities",
        ["tenant_id", "product_id", "status"],
        unique=False,
    )
    op.create_index(
        "ix_groupbuy_activities_tenant_window",
        "groupbuy_activities",
        ["tenant_id", "status", "ends_at"],
        unique=False,
    )

    op.create_table(
        "groupbuy_items",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("activity_id", sa.String(length=26), nullable=False),
        sa.Column("sku_id", sa.String(length=26), nullable=False),
        sa.Column("group_price", sa.Integer(), nullable=False),
        sa.CheckConstraint("group_price >= 1", name=op.f("ck_groupbuy_items_price_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "activity_id"],
            ["groupbuy_activities.tenant_id", "groupbuy_activities.id"],
            name=op.f("fk_groupbuy_items_tenant_id_activity_id_groupbuy_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sku_id"],
            ["skus.tenant_id", "skus.id"],
            name=op.f("fk_groupbuy_items_tenant_id_sku_id_skus"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_groupbuy_items_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_groupbuy_items")),
        sa.UniqueConstraint(
            "tenant_id",
            "activity_id",
            "sku_id",
            name=op.f("uq_groupbuy_items_tenant_id_activity_id_sku_id"),
        ),
    )
    op.create_table(
        "groupbuy_teams",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("activity_id", sa.String(length=26), nullable=False),
        sa.Column("product_id", sa.String(length=26), nullable=False),
        sa.Column("leader_id", sa.String(length=26), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("paid", sa.Integer(), nullable=False),
        sa.Column("placeholders", sa.Integer(), nullable=False),
        sa.Column("time_limit_minutes", sa.Integer(), nullable=False),
        sa.Column("virtual_percent", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("opened_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=40), nullable=False),
        sa.CheckConstraint(
            "paid >= 0 AND paid <= seats", name=op.f("ck_groupbuy_teams_paid_within_seats")
        ),
        sa.CheckConstraint(
            "placeholders >= 0 AND paid + placeholders <= size",
            name=op.f("ck_groupbuy_teams_placeholders"),
        ),
        sa.CheckConstraint(
            "seats >= 0 AND seats <= size", name=op.f("ck_groupbuy_teams_seats_within_size")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "activity_id"],
            ["groupbuy_activities.tenant_id", "groupbuy_activities.id"],
            name=op.f("fk_groupbuy_teams_tenant_id_activity_id_groupbuy_activities"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "leader_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_groupbuy_teams_tenant_id_leader_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_groupbuy_teams_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_groupbuy_teams")),
    )
    op.create_index(
        "ix_groupbuy_teams_tenant_activity",
        "groupbuy_teams",
        ["tenant_id", "activity_id", "status"],
        unique=False,
    )
    op.create_index(
        "ix_groupbuy_teams_tenant_expiry",
        "groupbuy_teams",
        ["tenant_id", "status", "expires_at"],
        unique=False,
    )
    op.create_index(
        "ix_groupbuy_teams_tenant_product",
        "groupbuy_teams",
        ["tenant_id", "product_id", "status"],
        unique=False,
    )

    op.create_table(
        "groupbuy_members",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("team_id", sa.String(length=26), nullable=False),
        sa.Column("activity_id", sa.String(length=26), nullable=False),
        sa.Column("member_id", sa.String(length=26), nullable=False),
        sa.Column("order_id", sa.String(length=26), nullable=False),
        sa.Column("sku_id", sa.String(length=26), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("is_leader", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("open_activity", sa.String(length=26), nullable=True),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("paid_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_groupbuy_members_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "activity_id"],
            ["groupbuy_activities.tenant_id", "groupbuy_activities.id"],
            name=op.f("fk_groupbuy_members_tenant_id_activity_id_groupbuy_activities"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_groupbuy_members_tenant_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["orders.tenant_id", "orders.id"],
            name=op.f("fk_groupbuy_members_tenant_id_order_id_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "team_id"],
            ["groupbuy_teams.tenant_id", "groupbuy_teams.id"],
            name=op.f("fk_groupbuy_members_tenant_id_team_id_groupbuy_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_groupbuy_members_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_groupbuy_members")),
        sa.UniqueConstraint(
            "tenant_id",
            "member_id",
            "open_activity",
            name=op.f("uq_groupbuy_members_tenant_id_member_id_open_activity"),
        ),
        sa.UniqueConstraint(
            "tenant_id", "order_id", name=op.f("uq_groupbuy_members_tenant_id_order_id")
        ),
    )
    op.create_index(
        "ix_groupbuy_members_tenant_member",
        "groupbuy_members",
        ["tenant_id", "member_id", "activity_id"],
        unique=False,
    )
    op.create_index(
        "ix_groupbuy_members_tenant_team",
        "groupbuy_members",
        ["tenant_id", "team_id", "status"],
        unique=False,
    )

    for table in TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    op.drop_index("ix_groupbuy_members_tenant_team", table_name="groupbuy_members")
    op.drop_index("ix_groupbuy_members_tenant_member", table_name="groupbuy_members")

    op.drop_table("groupbuy_members")
    op.drop_index("ix_groupbuy_teams_tenant_product", table_name="groupbuy_teams")
    op.drop_index("ix_groupbuy_teams_tenant_expiry", table_name="groupbuy_teams")
    op.drop_index("ix_groupbuy_teams_tenant_activity", table_name="groupbuy_teams")

    op.drop_table("groupbuy_teams")
    op.drop_table("groupbuy_items")
    op.drop_index("ix_groupbuy_activities_tenant_window", table_name="groupbuy_activities")
    op.drop_index("ix_groupbuy_activities_tenant_product", table_name="groupbuy_activities")

    op.drop_table("groupbuy_activities")
