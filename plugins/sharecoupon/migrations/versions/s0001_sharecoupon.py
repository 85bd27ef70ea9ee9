"""sharecoupon plugin: campaigns, packs, claims, referrals, rewards

Revision ID: s0001_sharecoupon
Revises:
Create Date: 2026-12-03 08:37:51.847009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.db
from core.tenancy.rls import enable_tenant_rls

revision: str = "s0001_sharecoupon"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("sharecoupon",)
depends_on: str | Sequence[str] | None = "0003_payments"

TENANT_TABLES = (
    "sharecoupon_campaigns",
    "sharecoupon_packs",
    "sharecoupon_claims",
    "sharecoupon_referrals",
    "sharecoupon_rewards",
)


def upgrade() -> None:
    op.create_table(
        "sharecoupon_campaigns",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("title", sa.String(length=40), nullable=False),
        sa.Column("template_id", sa.String(length=26), nullable=False),
        sa.Column("pack_size", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=8), nullable=False),
        sa.Column("min_order_amount", sa.Integer(), nullable=False),
        sa.Column(
            "product_ids", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "category_ids", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("claimers", sa.String(length=12), nullable=False),
        sa.Column("dormant_days", sa.Integer(), nullable=False),
        sa.Column("one_per_campaign", sa.Boolean(), nullable=False),
        sa.Column("pack_valid_hours", sa.Integer(), nullable=False),
        sa.Column("coupon_valid_days", sa.Integer(), nullable=True),
        sa.Column("max_packs", sa.Integer(), nullable=True),
        sa.Column("max_claims", sa.Integer(), nullable=True),
        sa.Column("reward_kind", sa.String(length=8), nullable=False),
        sa.Column("reward_template_id", sa.String(length=26), nullable=True),
        sa.Column("reward_points", sa.Integer(), nullable=False),
        sa.Column("reward_when", sa.String(length=10), nullable=False),
        sa.Column("reward_claims", sa.Integer(), nullable=False),
        sa.Column("starts_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("packs_issued", sa.Integer(), nullable=False),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "ends_at IS NULL OR ends_at > starts_at", name=op.f("ck_sharecoupon_campaigns_window")
        ),
        sa.CheckConstraint(
            "max_claims IS NULL OR claims <= max_claims",
            name=op.f("ck_sharecoupon_campaigns_claims_budget"),
        ),
        sa.CheckConstraint(
            "max_packs IS NULL OR packs_issued <= max_packs",
            name=op.f("ck_sharecoupon_campaigns_packs_budget"),
        ),
        sa.CheckConstraint(
            "pack_size >= 1 AND pack_size <= 100", name=op.f("ck_sharecoupon_campaigns_pack_size")
        ),
        sa.CheckConstraint(
            "packs_issued >= 0 AND claims >= 0", name=op.f("ck_sharecoupon_campaigns_counts")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "reward_template_id"],
            ["coupon_templates.tenant_id", "coupon_templates.id"],
            name=op.f("fk_sharecoupon_campaigns_reward_template"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "template_id"],
            ["coupon_templates.tenant_id", "coupon_templates.id"],
            name=op.f("fk_sharecoupon_campaigns_tenant_id_template_id_coupon_templates"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sharecoupon_campaigns_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sharecoupon_campaigns")),
    )
    with op.batch_alter_table("sharecoupon_campaigns", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sharecoupon_campaigns_tenant_status",
            ["tenant_id", "status", "trigger"],
            unique=False,
        )

    op.create_table(
        "sharecoupon_packs",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("campaign_id", sa.String(length=26), nullable=False),
        sa.Column("sharer_id", sa.String(length=26), nullable=False),
        sa.Column("order_id", sa.String(length=26), nullable=True),
        sa.Column("manual_key", sa.String(length=26), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("claimed", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("expires_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("shared_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("shared_day", sa.String(length=10), nullable=True),
        sa.Column("voided_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "claimed >= 0 AND claimed <= size",
            name=op.f("ck_sharecoupon_packs_claimed_within_size"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["sharecoupon_campaigns.tenant_id", "sharecoupon_campaigns.id"],
            name=op.f("fk_sharecoupon_packs_campaign"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["orders.tenant_id", "orders.id"],
            name=op.f("fk_sharecoupon_packs_tenant_id_order_id_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sharer_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_sharecoupon_packs_tenant_id_sharer_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sharecoupon_packs_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sharecoupon_packs")),
        sa.UniqueConstraint(
            "tenant_id",
            "campaign_id",
            "manual_key",
            name=op.f("uq_sharecoupon_packs_tenant_id_campaign_id_manual_key"),
        ),
        sa.UniqueConstraint(
            "tenant_id", "order_id", name=op.f("uq_sharecoupon_packs_tenant_id_order_id")
        ),
        sa.UniqueConstraint(
            "tenant_id", "token_hash", name=op.f("uq_sharecoupon_packs_tenant_id_token_hash")
        ),
    )
    with op.batch_alter_table("sharecoupon_packs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sharecoupon_packs_tenant_campaign_day",
            ["tenant_id", "campaign_id", "day"],
            unique=False,
        )
        batch_op.create_index(
            "ix_sharecoupon_packs_tenant_sharer", ["tenant_id", "sharer_id"], unique=False
        )

    op.create_table(
        "sharecoupon_claims",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("pack_id", sa.String(length=26), nullable=False),
        sa.Column("campaign_id", sa.String(length=26), nullable=False),
        sa.Column("member_id", sa.String(length=26), nullable=False),
        sa.Column("coupon_id", sa.String(length=26), nullable=False),
        sa.Column("once_key", sa.String(length=26), nullable=True),
        sa.Column("new_member", sa.Boolean(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("order_id", sa.String(length=26), nullable=True),
        sa.Column("order_amount", sa.Integer(), nullable=False),
        sa.Column("discount", sa.Integer(), nullable=False),
        sa.Column("used_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("used_day", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["sharecoupon_campaigns.tenant_id", "sharecoupon_campaigns.id"],
            name=op.f("fk_sharecoupon_claims_campaign"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "coupon_id"],
            ["member_coupons.tenant_id", "member_coupons.id"],
            name=op.f("fk_sharecoupon_claims_tenant_id_coupon_id_member_coupons"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_sharecoupon_claims_tenant_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["orders.tenant_id", "orders.id"],
            name=op.f("fk_sharecoupon_claims_tenant_id_order_id_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "pack_id"],
            ["sharecoupon_packs.tenant_id", "sharecoupon_packs.id"],
            name=op.f("fk_sharecoupon_claims_tenant_id_pack_id_sharecoupon_packs"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sharecoupon_claims_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sharecoupon_claims")),
        sa.UniqueConstraint(
            "tenant_id",
            "campaign_id",
            "once_key",
            name=op.f("uq_sharecoupon_claims_tenant_id_campaign_id_once_key"),
        ),
        sa.UniqueConstraint(
            "tenant_id", "coupon_id", name=op.f("uq_sharecoupon_claims_tenant_id_coupon_id")
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "pack_id",
            "member_id",
            name=op.f("uq_sharecoupon_claims_tenant_id_pack_id_member_id"),
        ),
    )
    with op.batch_alter_table("sharecoupon_claims", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sharecoupon_claims_tenant_campaign_day",
            ["tenant_id", "campaign_id", "day"],
            unique=False,
        )
        batch_op.create_index(
            "ix_sharecoupon_claims_tenant_member", ["tenant_id", "member_id"], unique=False
        )
        batch_op.create_index(
            "ix_sharecoupon_claims_tenant_order", ["tenant_id", "order_id"], unique=False
        )

    op.create_table(
        "sharecoupon_referrals",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("member_id", sa.String(length=26), nullable=False),
        sa.Column("sharer_id", sa.String(length=26), nullable=False),
        sa.Column("pack_id", sa.String(length=26), nullable=False),
        sa.Column("campaign_id", sa.String(length=26), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["sharecoupon_campaigns.tenant_id", "sharecoupon_campaigns.id"],
            name=op.f("fk_sharecoupon_referrals_campaign"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_sharecoupon_referrals_tenant_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "pack_id"],
            ["sharecoupon_packs.tenant_id", "sharecoupon_packs.id"],
            name=op.f("fk_sharecoupon_referrals_tenant_id_pack_id_sharecoupon_packs"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sharer_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_sharecoupon_referrals_tenant_id_sharer_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sharecoupon_referrals_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sharecoupon_referrals")),
        sa.UniqueConstraint(
            "tenant_id", "member_id", name=op.f("uq_sharecoupon_referrals_tenant_id_member_id")
        ),
    )
    with op.batch_alter_table("sharecoupon_referrals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sharecoupon_referrals_tenant_campaign_day",
            ["tenant_id", "campaign_id", "day"],
            unique=False,
        )

    op.create_table(
        "sharecoupon_rewards",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("pack_id", sa.String(length=26), nullable=False),
        sa.Column("campaign_id", sa.String(length=26), nullable=False),
        sa.Column("sharer_id", sa.String(length=26), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("coupon_id", sa.String(length=26), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("granted_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("granted_day", sa.String(length=10), nullable=True),
        sa.Column("cancelled_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["sharecoupon_campaigns.tenant_id", "sharecoupon_campaigns.id"],
            name=op.f("fk_sharecoupon_rewards_campaign"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "coupon_id"],
            ["member_coupons.tenant_id", "member_coupons.id"],
            name=op.f("fk_sharecoupon_rewards_tenant_id_coupon_id_member_coupons"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "pack_id"],
            ["sharecoupon_packs.tenant_id", "sharecoupon_packs.id"],
            name=op.f("fk_sharecoupon_rewards_tenant_id_pack_id_sharecoupon_packs"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sharer_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_sharecoupon_rewards_tenant_id_sharer_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sharecoupon_rewards_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sharecoupon_rewards")),
        sa.UniqueConstraint(
            "tenant_id", "pack_id", name=op.f("uq_sharecoupon_rewards_tenant_id_pack_id")
        ),
    )
    with op.batch_alter_table("sharecoupon_rewards", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sharecoupon_rewards_tenant_campaign",
            ["tenant_id", "campaign_id", "status"],
            unique=False,
        )

    for table in TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    with op.batch_alter_table("sharecoupon_rewards", schema=None) as batch_op:
        batch_op.drop_index("ix_sharecoupon_rewards_tenant_campaign")

    op.drop_table("sharecoupon_rewards")
    with op.batch_alter_table("sharecoupon_referrals", schema=None) as batch_op:
        batch_op.drop_index("ix_sharecoupon_referrals_tenant_campaign_day")

    op.drop_table("sharecoupon_referrals")
    with op.batch_alter_table("sharecoupon_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_sharecoupon_claims_tenant_order")
        batch_op.drop_index("ix_sharecoupon_claims_tenant_member")
        batch_op.drop_index("ix_sharecoupon_claims_tenant_campaign_day")

    op.drop_table("sharecoupon_claims")
    with op.batch_alter_table("sharecoupon_packs", schema=None) as batch_op:
        batch_op.drop_index("ix_sharecoupon_packs_tenant_sharer")
        batch_op.drop_index("ix_sharecoupon_packs_tenant_campaign_day")

    op.drop_table("sharecoupon_packs")
    with op.batch_alter_table("sharecoupon_campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_sharecoupon_campaigns_tenant_status")

    op.drop_table("sharecoupon_campaigns")
