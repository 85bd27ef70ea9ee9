"""order lines found by their order

Revision ID: 0009_order_lines_by_order
Revises: 0008_notifications
Create Date: 2026-12-03 10:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_order_lines_by_order"
down_revision: str | Sequence[str] | None = "0008_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_lines_tenant_order", ["tenant_id", "order_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_order_lines_tenant_order")
