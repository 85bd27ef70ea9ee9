"""Test fixtures. Every test that takes ``backend`` (directly or through ``rt``/``client``)
runs twice: on SQLite with in-process stores and jobs, and on PostgreSQL (as a non-owner role,
so row-level security applies) with Redis. The server half is skipped with a reason when the
servers do not answer, except under CI=true, where that is a failure."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from core.jobs import SaqQueue
from core.runtime import Runtime
from core.settings import Settings, load_settings
from storeplug.app import create_app
from storeplug.runtime import build_runtime, upgrade_database
from tests.fakes.loopback import serve

if TYPE_CHECKING:
    from tests.fakes.wechat import FakeWeChat
    from tests.fakes.wechatpay import FakeWeChatPay

# The fake WeChat server (fixture ``fake_wechat``); every runtime's wechat_base_url is it.
pytest_plugins = ("tests.fakes.wechat", "tests.fakes.wechatpay")
TEST_PLUGINS = ("tests.plugins.echo.plugin", "tests.plugins.needs_echo.plugin")
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


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI needs PostgreSQL and Redis: {reason}")
    pytest.skip(f"server backend not available ({reason}); run .ci/run for PostgreSQL + Redis")


def _port_open(url: str, default_port: int) -> bool:
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


def free_port() -> int:
    """A loopback port nobody listens on right now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_settings(**overrides: Any) -> Settings:
    return load_settings(
        {},
        vendor_token=VENDOR_TOKEN,
        secret_key=SECRET,
        plugin_modules=TEST_PLUGINS,
        log_level="WARNING",
        **overrides,
    )


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def settings(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_wechat: FakeWeChat,
    fake_wechatpay: FakeWeChatPay,
) -> Settings:
    # The server's port is fixed up front: WeChat Pay's notifications go to public_url.
    port = free_port()
    fakes: dict[str, Any] = {
        "wechat_base_url": fake_wechat.url,
        "wechatpay_base_url": fake_wechatpay.url,
        "port": port,
        "public_url": f"http://127.0.0.1:{port}",
        "allow_sandbox_payments": True,
    }
    if request.param == "sqlite":
        path = Path(tmp_path_factory.mktemp("db")) / "storeplug.db"
        result = base_settings(database_url=f"sqlite+aiosqlite:///{path}", **fakes)
    else:
        if not _port_open(PG_SUPER_URL, 5432):
            _unavailable("PostgreSQL does not answer at " + PG_SUPER_URL)
        if not _port_open(REDIS_URL, 6379):
            _unavailable("Redis does not answer at " + REDIS_URL)
        await prepare_postgres()
        redis = Redis.from_url(REDIS_URL)
        await redis.flushdb()
        await redis.aclose()
        owner_url, app_url = pg_urls()
        result = base_settings(
            database_url=app_url,
            migration_database_url=owner_url,
            redis_url=REDIS_URL,
            **fakes,
        )
    await asyncio.to_thread(upgrade_database, result)
    return result


@pytest.fixture(scope="session")
def backend(settings: Settings) -> str:
    return "sqlite" if settings.is_sqlite else "postgres"


@dataclass
class LiveServer:
    url: str
    runtime: Runtime


@pytest.fixture(scope="session")
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    """The real app behind a real uvicorn on a loopback port, in the test's event loop."""
    runtime = build_runtime(settings)
    async with serve(create_app(settings, runtime), settings.port) as url:
        yield LiveServer(url=url, runtime=runtime)


@pytest.fixture(scope="session")
def rt(server: LiveServer) -> Runtime:
    return server.runtime


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        yield http


@pytest.fixture
async def worker(rt: Runtime) -> AsyncIterator[None]:
    """On Redis the test server only enqueues; run a job worker as `storeplug worker` would
    (the in-process queue runs jobs inside the server already)."""
    task = asyncio.create_task(rt.jobs.run_worker()) if isinstance(rt.jobs, SaqQueue) else None
    yield
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
def caplog(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """pytest's caplog, also attached to our logger: once an app has configured logging,
    ``storeplug`` no longer propagates to the root logger that caplog listens on."""
    logger = logging.getLogger("storeplug")
    # Attached only when the records do not reach the root already (else each shows twice).
    attach = not logger.propagate
    if attach:
        logger.addHandler(caplog.handler)
    yield caplog
    if attach:
        logger.removeHandler(caplog.handler)
