"""Row-level security for tenant tables (PostgreSQL; a no-op on SQLite).

The policy compares ``tenant_id`` with ``current_setting('app.tenant_id', true)``, which is
NULL or '' when the app has not set it, so a connection without a tenant sees no rows (fail
closed). FORCE makes it apply to the table owner too.
"""

from __future__ import annotations

from alembic import op

POLICY = "tenant_isolation"


def enable_tenant_rls(table: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    condition = "tenant_id = current_setting('app.tenant_id', true)"
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    op.execute(f'CREATE POLICY {POLICY} ON "{table}" USING ({condition}) WITH CHECK ({condition})')
