"""pickup plugin: members who verify at a point, a point's own booking window

Revision ID: p0002_member_verifiers
Revises: p0001_pickup
Create Date: 2026-11-23 09:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "p0002_member_verifiers"
down_revision: str | Sequence[str] | None = "p0001_pickup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # Existing points have no member verifiers and follow the plugin's booking window.
    with op.batch_alter_table("pickup_points", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "verifier_member_ids", _json(), nullable=False, server_default=sa.text("'[]'")
            )
        )
        batch_op.add_column(sa.Column("booking_days", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_pickup_points_booking_days_positive"),
            "booking_days IS NULL OR booking_days >= 1",
        )
    with op.batch_alter_table("pickup_verifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_id", sa.String(length=26), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pickup_verifications", schema=None) as batch_op:
        batch_op.drop_column("member_id")
    with op.batch_alter_table("pickup_points", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_pickup_points_booking_days_positive"), type_="check")
        batch_op.drop_column("booking_days")
        batch_op.drop_column("verifier_member_ids")
