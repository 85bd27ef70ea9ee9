"""storeplug.testing: the pytest plugin for testing storeplug and plugins for it.

Turn it on in the root ``conftest.py`` of your tests (it is not switched on by merely being
installed, see docs/decisions.md)::

    pytest_plugins = ("storeplug.testing",)

and run the tests in the session's event loop (``pip install storeplug[testing]`` brings
pytest and pytest-asyncio)::

    [tool.pytest.ini_options]
    asyncio_mode = "auto"
    asyncio_default_fixture_loop_scope = "session"
    asyncio_default_test_loop_scope = "session"
    storeplug_plugins = ["checkin"]   # what the `merchant` fixture enables

Fixtures (each test that uses the app runs twice: ``[sqlite]`` with in-process stores and
jobs, and ``[postgres]`` on PostgreSQL as a non-owner role under row-level security, with
Redis; see ``storeplug.testing.backends`` for the environment variables):

- ``client``: an ``httpx.AsyncClient`` on the app, served by a real uvicorn on a loopback port;
- ``rt``: the app's runtime (``rt.db.tenant_session(tenant_id)``, ``rt.jobs``, ``rt.pm``);
- ``backend``: ``"sqlite"`` or ``"postgres"``; ``settings``: the app's settings;
- ``merchant``: a new tenant on a plan with the ``storeplug_plugins`` enabled, owner signed in;
- ``member``: a member of that store with a real token; ``staff``: a clerk, signed in;
- ``owner_console``: that store's merchant console, signed in as the owner (cookies, CSRF);
- ``worker``: a job worker for the test (on Redis the server only enqueues);
- ``fake_wechat``, ``fake_wechatpay``: fake WeChat and WeChat Pay servers (real HTTP, real
  protocol, real crypto) that the app talks to;
- ``storeplug_overrides``: override it to change the app's settings for all tests.

Helpers: ``onboard``, ``enable``, ``make_member``, ``new_staff``, ``wx_login`` and
``connect_store`` set things up over the real API; ``problem`` asserts a problem+json answer;
``eventually`` waits for what a job does elsewhere; ``migration_drift`` compares the migrated
database with the models.
"""

from __future__ import annotations

import pytest

# Assertions in the helpers get pytest's detailed failure messages.
pytest.register_assert_rewrite(
    "storeplug.testing.console", "storeplug.testing.helpers", "storeplug.testing.fixtures"
)

from storeplug.testing.backends import (  # noqa: E402
    IN_CI,
    SECRET,
    VENDOR_TOKEN,
    base_settings,
    free_port,
)
from storeplug.testing.console import ConsoleClient, signed_in  # noqa: E402
from storeplug.testing.fakes.wechat import FakeApp, FakeWeChat, connect_store, wx_login  # noqa: E402
from storeplug.testing.fakes.wechatpay import FakeMerchant, FakeWeChatPay  # noqa: E402
from storeplug.testing.fixtures import LiveServer  # noqa: E402
from storeplug.testing.helpers import (  # noqa: E402
    VENDOR,
    Merchant,
    Shopper,
    Staff,
    enable,
    ensure_plan,
    eventually,
    make_member,
    migration_drift,
    new_staff,
    onboard,
    problem,
    staff_auth,
    unique_slug,
)
from storeplug.testing.loopback import serve  # noqa: E402

pytest_plugins = ("storeplug.testing.fixtures",)

__all__ = [
    "IN_CI",
    "SECRET",
    "VENDOR",
    "VENDOR_TOKEN",
    "ConsoleClient",
    "FakeApp",
    "FakeMerchant",
    "FakeWeChat",
    "FakeWeChatPay",
    "LiveServer",
    "Merchant",
    "Shopper",
    "Staff",
    "base_settings",
    "connect_store",
    "enable",
    "ensure_plan",
    "eventually",
    "free_port",
    "make_member",
    "migration_drift",
    "new_staff",
    "onboard",
    "problem",
    "serve",
    "signed_in",
    "staff_auth",
    "unique_slug",
    "wx_login",
]
