"""vendor console operators and their sessions

Revision ID: 0010_vendor_users
Revises: 0009_order_lines_by_order
Create Date: 2026-12-05 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0010_vendor_users"
down_revision: str | Sequence[str] | None = "0009_order_lines_by_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Shared tables (no tenant, no RLS): an operator works across every tenant.
    op.create_table(
        "vendor_users",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor_users")),
        sa.UniqueConstraint("username", name=op.f("uq_vendor_users_username")),
        info={"shared": True},
    )
    op.create_table(
        "vendor_sessions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["vendor_users.id"], name=op.f("fk_vendor_sessions_user_id_vendor_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_vendor_sessions_token_hash")),
        info={"shared": True},
    )


def downgrade() -> None:
    op.drop_table("vendor_sessions")
    op.drop_table("vendor_users")
