"""Alembic environment: async engines, the owner's URL, every installed plugin's tables."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

import core.models  # noqa: F401  (registers the core tables)
import tenants.models  # noqa: F401
from core.db import Base, create_engine
from core.settings import Settings, load_settings
from storeplug.runtime import build_plugins

config = context.config
settings: Settings = config.attributes.get("settings") or load_settings()
# Plugin modules were imported by the registry, which registered their tables on Base.
if "registry" not in config.attributes:
    build_plugins(settings)

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(settings.owner_database_url, poolclass=NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `storeplug db upgrade`")
asyncio.run(_run_async())
