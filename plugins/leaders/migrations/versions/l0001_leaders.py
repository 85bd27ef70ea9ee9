"""leaders plugin: leaders, their buyers and the leader of each order

Revision ID: l0001_leaders
Revises:
Create Date: 2026-11-23 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db
from core.tenancy.rls import enable_tenant_rls

revision: str = "l0001_leaders"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("leaders",)
depends_on: str | Sequence[str] | None = "p0002_member_verifiers"

TENANT_TABLES = ("leaders_leaders", "leaders_bindings", "leaders_orders")


def upgrade() -> None:
    op.create_table(
        "leaders_leaders",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("member_id", sa.String(length=26), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=False),
        sa.Column("longitude", sa.Double(), nullable=False),
        sa.Column("photo_url", sa.String(length=500), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("point_id", sa.String(length=26), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("applied_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("approved_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("decided_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_leaders_leaders_tenant_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "point_id"],
            ["pickup_points.tenant_id", "pickup_points.id"],
            name=op.f("fk_leaders_leaders_tenant_id_point_id_pickup_points"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_leaders_leaders_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_leaders_leaders")),
        sa.UniqueConstraint(
            "tenant_id", "member_id", name=op.f("uq_leaders_leaders_tenant_id_member_id")
        ),
        sa.UniqueConstraint(
            "tenant_id", "point_id", name=op.f("uq_leaders_leaders_tenant_id_point_id")
        ),
    )
    op.create_index(
        "ix_leaders_leaders_tenant_status",
        "leaders_leaders",
        ["tenant_id", "status", "id"],
        unique=False,
    )
    op.create_table(
        "leaders_bindings",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("member_id", sa.String(length=26), nullable=False),
        sa.Column("leader_id", sa.String(length=26), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("bound_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "leader_id"],
            ["leaders_leaders.tenant_id", "leaders_leaders.id"],
            name=op.f("fk_leaders_bindings_tenant_id_leader_id_leaders_leaders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_leaders_bindings_tenant_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_leaders_bindings_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_leaders_bindings")),
        sa.UniqueConstraint(
            "tenant_id", "member_id", name=op.f("uq_leaders_bindings_tenant_id_member_id")
        ),
    )
    op.create_index(
        "ix_leaders_bindings_tenant_leader",
        "leaders_bindings",
        ["tenant_id", "leader_id", "id"],
        unique=False,
    )
    op.create_table(
        "leaders_orders",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("order_id", sa.String(length=26), nullable=False),
        sa.Column("leader_id", sa.String(length=26), nullable=False),
        sa.Column("member_id", sa.String(length=26), nullable=False),
        sa.Column("via", sa.String(length=12), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "leader_id"],
            ["leaders_leaders.tenant_id", "leaders_leaders.id"],
            name=op.f("fk_leaders_orders_tenant_id_leader_id_leaders_leaders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_leaders_orders_tenant_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["orders.tenant_id", "orders.id"],
            name=op.f("fk_leaders_orders_tenant_id_order_id_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_leaders_orders_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_leaders_orders")),
        sa.UniqueConstraint(
            "tenant_id", "order_id", name=op.f("uq_leaders_orders_tenant_id_order_id")
        ),
    )
    op.create_index(
        "ix_leaders_orders_tenant_leader",
        "leaders_orders",
        ["tenant_id", "leader_id", "id"],
        unique=False,
    )
    for table in TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    op.drop_table("leaders_orders")
    op.drop_table("leaders_bindings")
    op.drop_table("leaders_leaders")
