"""pickup plugin: pickup points, slot bookings, pickup orders and verifications

Revision ID: p0001_pickup
Revises:
Create Date: 2026-11-22 03:05:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.db
from core.tenancy.rls import enable_tenant_rls

revision: str = "p0001_pickup"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("pickup",)
depends_on: str | Sequence[str] | None = "0003_payments"

TENANT_TABLES = ("pickup_points", "pickup_slots", "pickup_orders", "pickup_verifications")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, core.db.UtcDateTime(timezone=True), nullable=nullable)


def _id(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length=26), nullable=False)


def _tenant_fks(table: str, *targets: tuple[str, str]) -> list[sa.ForeignKeyConstraint]:
    fks = [
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants")
        )
    ]
    for column, target in targets:
        fks.append(
            sa.ForeignKeyConstraint(
                ["tenant_id", column],
                [f"{target}.tenant_id", f"{target}.id"],
                name=op.f(f"fk_{table}_tenant_id_{column}_{target}"),
            )
        )
    return fks


def upgrade() -> None:
    op.create_table(
        "pickup_points",
        _id("tenant_id"),
        _id("id"),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=False),
        sa.Column("longitude", sa.Double(), nullable=False),
        sa.Column("hours", _json(), nullable=False),
        sa.Column("holidays", _json(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("staff_ids", _json(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.CheckConstraint("slot_minutes >= 5", name=op.f("ck_pickup_points_slot_length")),
        sa.CheckConstraint(
            "capacity IS NULL OR capacity >= 1", name=op.f("ck_pickup_points_capacity_positive")
        ),
        *_tenant_fks("pickup_points"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_pickup_points")),
    )
    op.create_table(
        "pickup_slots",
        _id("tenant_id"),
        _id("id"),
        _id("point_id"),
        _when("starts_at"),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.CheckConstraint("booked >= 0", name=op.f("ck_pickup_slots_booked_not_negative")),
        *_tenant_fks("pickup_slots", ("point_id", "pickup_points")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_pickup_slots")),
        sa.UniqueConstraint(
            "tenant_id",
            "point_id",
            "starts_at",
            name=op.f("uq_pickup_slots_tenant_id_point_id_starts_at"),
        ),
    )
    op.create_table(
        "pickup_orders",
        _id("tenant_id"),
        _id("id"),
        _id("order_id"),
        _id("member_id"),
        _id("point_id"),
        _when("slot_starts_at"),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=True),
        sa.Column("open_code", sa.String(length=12), nullable=True),
        _when("issued_at", nullable=True),
        _when("ready_notified_at", nullable=True),
        _when("reminded_at", nullable=True),
        _when("closed_at", nullable=True),
        _when("created_at"),
        *_tenant_fks("pickup_orders", ("order_id", "orders"), ("point_id", "pickup_points")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_pickup_orders")),
        sa.UniqueConstraint(
            "tenant_id", "order_id", name=op.f("uq_pickup_orders_tenant_id_order_id")
        ),
        sa.UniqueConstraint(
            "tenant_id", "open_code", name=op.f("uq_pickup_orders_tenant_id_open_code")
        ),
    )
    op.create_index(
        "ix_pickup_orders_tenant_status",
        "pickup_orders",
        ["tenant_id", "status", "issued_at"],
        unique=False,
    )
    op.create_table(
        "pickup_verifications",
        _id("tenant_id"),
        _id("id"),
        _id("order_id"),
        _id("point_id"),
        _id("staff_id"),
        sa.Column("method", sa.String(length=8), nullable=False),
        _when("verified_at"),
        *_tenant_fks("pickup_verifications", ("order_id", "orders"), ("point_id", "pickup_points")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_pickup_verifications")),
    )
    op.create_index(
        "ix_pickup_verifications_tenant_point",
        "pickup_verifications",
        ["tenant_id", "point_id", "verified_at"],
        unique=False,
    )
    for table in TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    op.drop_index("ix_pickup_verifications_tenant_point", table_name="pickup_verifications")
    op.drop_table("pickup_verifications")
    op.drop_index("ix_pickup_orders_tenant_status", table_name="pickup_orders")
    op.drop_table("pickup_orders")
    op.drop_table("pickup_slots")
    op.drop_table("pickup_points")
