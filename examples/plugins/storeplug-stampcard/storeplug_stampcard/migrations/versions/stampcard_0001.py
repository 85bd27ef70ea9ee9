"""stampcard plugin: cards and stamps

Revision ID: stampcard_0001
Revises:
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from core.db import UtcDateTime
from core.tenancy.rls import enable_tenant_rls

# The plugin's own branch, after the core revision that made the members table.
revision: str = "stampcard_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("stampcard",)
depends_on: str | Sequence[str] | None = "0002_commerce"


def upgrade() -> None:
    op.create_table(
        "stampcard_cards",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("member_id", sa.String(length=26), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("needed", sa.Integer(), nullable=False),
        sa.Column("stamps", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("coupon_id", sa.String(length=26), nullable=True),
        sa.Column("reward_error", sa.String(length=40), nullable=False),
        sa.Column("filled_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "stamps >= 0 AND stamps <= needed", name=op.f("ck_stampcard_cards_stamps_in_range")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'full')", name=op.f("ck_stampcard_cards_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_stampcard_cards_tenant_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_stampcard_cards_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_stampcard_cards")),
        sa.UniqueConstraint(
            "tenant_id",
            "member_id",
            "number",
            name=op.f("uq_stampcard_cards_tenant_id_member_id_number"),
        ),
    )
    op.create_index(
        "ix_stampcard_cards_reward_due",
        "stampcard_cards",
        ["tenant_id", "status", "reward_error"],
    )
    op.create_table(
        "stampcard_stamps",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("card_id", sa.String(length=26), nullable=False),
        sa.Column("member_id", sa.String(length=26), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("ref", sa.String(length=26), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("given_by", sa.String(length=26), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "card_id"],
            ["stampcard_cards.tenant_id", "stampcard_cards.id"],
            name=op.f("fk_stampcard_stamps_tenant_id_card_id_stampcard_cards"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_stampcard_stamps_tenant_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_stampcard_stamps_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_stampcard_stamps")),
        sa.UniqueConstraint(
            "tenant_id", "source", "ref", name=op.f("uq_stampcard_stamps_tenant_id_source_ref")
        ),
    )
    op.create_index("ix_stampcard_stamps_card", "stampcard_stamps", ["tenant_id", "card_id"])
    enable_tenant_rls("stampcard_cards")
    enable_tenant_rls("stampcard_stamps")


def downgrade() -> None:
    op.drop_table("stampcard_stamps")
    op.drop_table("stampcard_cards")
