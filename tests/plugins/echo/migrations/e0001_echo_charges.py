"""echo plugin: charges table

Revision ID: e0001_echo
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.tenancy.rls import enable_tenant_rls

revision: str = "e0001_echo"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("echo",)
depends_on: str | Sequence[str] | None = "0001_core"


def upgrade() -> None:
    op.create_table(
        "echo_charges",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_echo_charges_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_echo_charges")),
    )
    enable_tenant_rls("echo_charges")


def downgrade() -> None:
    op.drop_table("echo_charges")
