"""The two backends every test runs on, and how to reach them.

SQLite with in-process stores and jobs needs nothing. PostgreSQL + Redis are found through
the environment (defaults: a local server, the ``postgres`` superuser):

- ``STOREPLUG_TEST_PG_SUPER_URL``: a superuser URL, used to (re)create the test database and
  the non-owner login role the app runs as (``postgresql://postgres@127.0.0.1:5432/postgres``);
- ``STOREPLUG_TEST_PG_DB``: the test database, dropped and created anew per session
  (``storeplug_test``);
- ``STOREPLUG_TEST_REDIS_URL``: a Redis database, flushed per session
  (``redis://127.0.0.1:6379/9``).

When they do not answer, the PostgreSQL half is skipped with a reason, except under
``CI=true``, where that is a failure: CI must run both.
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlparse

import asyncpg
import pytest
from redis.asyncio import Redis

from core.settings import Settings, load_settings

VENDOR_TOKEN = "spv_test-vendor-token"
SECRET = "test-secret-key-0123456789abcdefghijklmnop"
PG_SUPER_URL = os.environ.get(
    "STOREPLUG_TEST_PG_SUPER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PG_DB = os.environ.get("STOREPLUG_TEST_PG_DB", "storeplug_test")
PG_APP_ROLE = "storeplug_app"
PG_APP_PASSWORD = "storeplug_app"
REDIS_URL = os.environ.get("STOREPLUG_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Skip this test for want of a server, or fail it under CI=true."""
    if IN_CI:
        pytest.fail(f"CI needs PostgreSQL and Redis: {reason}")
    pytest.skip(f"server backend not available ({reason}); run .ci/run for PostgreSQL + Redis")


def port_open(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


def pg_urls() -> tuple[str, str]:
    """(owner URL for migrations, app-role URL) for the test database."""
    parsed = urlparse(PG_SUPER_URL)
    host = f"{parsed.hostname or '127.0.0.1'}:{parsed.port or 5432}"
    owner = f"postgresql+asyncpg://{parsed.username or 'postgres'}@{host}/{PG_DB}"
    app = f"postgresql+asyncpg://{PG_APP_ROLE}:{PG_APP_PASSWORD}@{host}/{PG_DB}"
    return owner, app


async def prepare_postgres() -> None:
    """A fresh test database, and a login role that is not the table owner and has no
    BYPASSRLS, granted data access only (what docs/deployment.md asks of a deployment)."""
    conn = await asyncpg.connect(PG_SUPER_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{PG_DB}"')
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", PG_APP_ROLE)
        if not exists:
            await conn.execute(
                f"CREATE ROLE {PG_APP_ROLE} LOGIN PASSWORD '{PG_APP_PASSWORD}' NOBYPASSRLS"
            )
    finally:
        await conn.close()
    owner_url = PG_SUPER_URL.rsplit("/", 1)[0] + f"/{PG_DB}"
    conn = await asyncpg.connect(owner_url)
    try:
        await conn.execute(f"GRANT USAGE ON SCHEMA public TO {PG_APP_ROLE}")
        await conn.execute(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {PG_APP_ROLE}"
        )
    finally:
        await conn.close()


async def postgres_settings(**overrides: Any) -> Settings:
    """Settings for PostgreSQL (as the non-owner role) + Redis, on a fresh database and a
    flushed Redis; skips (or fails under CI) when the servers do not answer."""
    if not port_open(PG_SUPER_URL, 5432):
        unavailable("PostgreSQL does not answer at " + PG_SUPER_URL)
    if not port_open(REDIS_URL, 6379):
        unavailable("Redis does not answer at " + REDIS_URL)
    await prepare_postgres()
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    await redis.aclose()
    owner_url, app_url = pg_urls()
    return base_settings(
        database_url=app_url, migration_database_url=owner_url, redis_url=REDIS_URL, **overrides
    )


def free_port() -> int:
    """A loopback port nobody listens on right now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_settings(**overrides: Any) -> Settings:
    """Settings with the test vendor token and secret key, quiet logs, and ``overrides``."""
    values: dict[str, Any] = {
        "vendor_token": VENDOR_TOKEN,
        "secret_key": SECRET,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return load_settings({}, **values)
