"""analytics sums of money in 64 bits

A segment's or a big store's day's takings in fen pass 2**31 (21 million yuan); the order
columns stay 32-bit, a single order never comes near it.

Revision ID: 0011_analytics_money_bigint
Revises: 0010_vendor_users
Create Date: 2026-12-04 16:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_analytics_money_bigint"
down_revision: str | Sequence[str] | None = "0010_vendor_users"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {
    "analytics_days": ("gmv", "refunded", "net_revenue"),
    "analytics_product_days": ("sales",),
    "analytics_source_days": ("gmv", "benefit"),
    "analytics_member_rfm": ("monetary",),
    "analytics_segment_days": ("monetary",),
}


def _retype(old: type[sa.types.TypeEngine[int]], new: type[sa.types.TypeEngine[int]]) -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(
                    column, type_=new(), existing_type=old(), existing_nullable=False
                )


def upgrade() -> None:
    _retype(sa.Integer, sa.BigInteger)


def downgrade() -> None:
    _retype(sa.BigInteger, sa.Integer)
