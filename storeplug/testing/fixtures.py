"""The fixtures of ``storeplug.testing`` (see the package's docstring for how to use them).

Every test that takes ``backend`` (directly or through ``rt``/``client``/``merchant``) runs
twice: on SQLite with in-process stores and jobs, and on PostgreSQL (as a non-owner role, so
row-level security applies) with Redis. The app runs behind a real uvicorn on a loopback port
in the tests' event loop, so every request is real HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from core.jobs import SaqQueue
from core.runtime import Runtime
from core.settings import Settings
from storeplug.app import create_app
from storeplug.runtime import build_runtime, upgrade_database
from storeplug.testing.backends import base_settings, free_port, postgres_settings
from storeplug.testing.console import ConsoleClient, signed_in
from storeplug.testing.fakes.wechat import FakeWeChat
from storeplug.testing.fakes.wechatpay import FakeWeChatPay
from storeplug.testing.helpers import (
    Merchant,
    Shopper,
    Staff,
    enable,
    make_member,
    new_staff,
    onboard,
)
from storeplug.testing.loopback import serve

session_fixture = pytest_asyncio.fixture(scope="session", loop_scope="session")
test_fixture = pytest_asyncio.fixture(scope="function", loop_scope="session")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "storeplug_plugins",
        "plugins the `merchant` fixture's tenant has on its plan and enabled",
        type="linelist",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    # The app, its database engine and Redis pools live in the session's event loop; a test
    # in a loop of its own could not use them.
    scope = config.getini("asyncio_default_test_loop_scope")
    if scope != "session":
        raise pytest.UsageError(
            "storeplug.testing runs the app in the session's event loop: set "
            "asyncio_default_test_loop_scope = session (and asyncio_mode = auto) in the "
            f"[tool.pytest.ini_options] of your pyproject.toml (it is {scope!r})"
        )


@session_fixture
async def fake_wechat() -> AsyncIterator[FakeWeChat]:
    """The fake WeChat server for the whole test session, on a loopback port; every test
    app's ``wechat_base_url`` is it."""
    fake = FakeWeChat()
    async with serve(fake.app()) as fake.url:
        yield fake


@session_fixture
async def fake_wechatpay() -> AsyncIterator[FakeWeChatPay]:
    """The fake WeChat Pay server for the whole test session, on a loopback port; every test
    app's ``wechatpay_base_url`` is it."""
    fake = FakeWeChatPay()
    async with serve(fake.app()) as fake.url:
        yield fake
        await fake.drain()


@pytest.fixture(scope="session")
def storeplug_overrides() -> dict[str, Any]:
    """Settings every test app gets on top of the test defaults; override this fixture in
    your conftest.py (for example ``{"plugin_modules": ("mypkg.plugin",)}`` for a plugin
    that is not installed by entry point)."""
    return {}


@pytest_asyncio.fixture(scope="session", loop_scope="session", params=["sqlite", "postgres"])
async def settings(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_wechat: FakeWeChat,
    fake_wechatpay: FakeWeChatPay,
    storeplug_overrides: dict[str, Any],
) -> Settings:
    """The app's settings, once per backend: ``sqlite`` and ``postgres``; migrated."""
    # The server's port is fixed up front: WeChat Pay's notifications go to public_url.
    port = free_port()
    values: dict[str, Any] = {
        "wechat_base_url": fake_wechat.url,
        "wechatpay_base_url": fake_wechatpay.url,
        "port": port,
        "public_url": f"http://127.0.0.1:{port}",
        "allow_sandbox_payments": True,
        **storeplug_overrides,
    }
    if request.param == "sqlite":
        path = Path(tmp_path_factory.mktemp("db")) / "storeplug.db"
        result = base_settings(database_url=f"sqlite+aiosqlite:///{path}", **values)
    else:
        result = await postgres_settings(**values)
    await asyncio.to_thread(upgrade_database, result)
    return result


@pytest.fixture(scope="session")
def backend(settings: Settings) -> str:
    """``"sqlite"`` or ``"postgres"``: which backend this run of the test is on."""
    return "sqlite" if settings.is_sqlite else "postgres"


@dataclass
class LiveServer:
    url: str
    runtime: Runtime


@session_fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    """The real app behind a real uvicorn on a loopback port, in the test's event loop."""
    runtime = build_runtime(settings)
    async with serve(create_app(settings, runtime), settings.port) as url:
        yield LiveServer(url=url, runtime=runtime)


@pytest.fixture(scope="session")
def rt(server: LiveServer) -> Runtime:
    """The server's runtime: its database (``rt.db.tenant_session(tenant_id)``), stores,
    job queue and plugin manager."""
    return server.runtime


@test_fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client with the server's base URL."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        yield http


@test_fixture
async def worker(rt: Runtime) -> AsyncIterator[None]:
    """On Redis the test server only enqueues; run a job worker as `storeplug worker` would
    (the in-process queue runs jobs inside the server already)."""
    task = asyncio.create_task(rt.jobs.run_worker()) if isinstance(rt.jobs, SaqQueue) else None
    yield
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture(scope="session")
def storeplug_plugins(pytestconfig: pytest.Config) -> tuple[str, ...]:
    """The plugins the ``merchant`` fixture enables: the ``storeplug_plugins`` ini option;
    override this fixture for a module that needs others."""
    return tuple(pytestconfig.getini("storeplug_plugins"))


@test_fixture
async def merchant(client: httpx.AsyncClient, storeplug_plugins: tuple[str, ...]) -> Merchant:
    """A new tenant, its owner signed in (``merchant.auth``), on a plan with
    ``storeplug_plugins`` and each of them enabled with its default settings."""
    plan = "testing-" + "-".join(sorted(storeplug_plugins)) if storeplug_plugins else "testing"
    shop = await onboard(client, plan=plan, plugins=storeplug_plugins)
    for name in storeplug_plugins:
        response = await enable(client, shop, name)
        assert response.status_code == 200, f"enabling {name}: {response.text}"
    return shop


@test_fixture
async def member(rt: Runtime, merchant: Merchant) -> Shopper:
    """A member of ``merchant``'s store with a real access token (``member.auth``)."""
    return await make_member(rt, merchant)


@test_fixture
async def staff(client: httpx.AsyncClient, merchant: Merchant) -> Staff:
    """A clerk of ``merchant``, signed in (``staff.auth``); ``new_staff`` makes others."""
    return await new_staff(client, merchant, "clerk")


@test_fixture
async def owner_console(server: LiveServer, merchant: Merchant) -> AsyncIterator[ConsoleClient]:
    """``merchant``'s console (``/console/{tenant}``) in a browser-like client signed in as
    the owner: its own cookies, and the CSRF token of the last page sent with each post."""
    async with signed_in(server.url, merchant) as console:
        yield console


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
