"""Helpers that set up tenants, members and staff over the real HTTP API, and check answers."""

from __future__ import annotations

import asyncio
import inspect
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from core.db import Base, create_engine
from core.members.models import Member
from core.members.tokens import issue_access_token
from core.runtime import Runtime
from core.settings import Settings
from storeplug.testing.backends import VENDOR_TOKEN

VENDOR = {"Authorization": f"Bearer {VENDOR_TOKEN}"}


@dataclass
class Merchant:
    slug: str
    id: str
    token: str
    password: str
    plan: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def merchant(self) -> str:
        return f"/merchant/{self.slug}/v1"

    @property
    def store(self) -> str:
        return f"/store/{self.slug}/v1"


def unique_slug(prefix: str = "shop") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def ensure_plan(client: httpx.AsyncClient, code: str, plugins: list[str]) -> None:
    response = await client.put(
        f"/vendor/v1/plans/{code}",
        json={"code": code, "name": code.title(), "plugins": plugins},
        headers=VENDOR,
    )
    assert response.status_code == 200, response.text


async def onboard(
    client: httpx.AsyncClient, plan: str = "test-pro", plugins: tuple[str, ...] = ("echo",)
) -> Merchant:
    await ensure_plan(client, plan, list(plugins))
    slug = unique_slug()
    response = await client.post(
        "/vendor/v1/tenants",
        json={"slug": slug, "name": f"Shop {slug}", "plan": plan},
        headers=VENDOR,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    password = body["owner"]["initial_password"]
    login = await client.post(
        f"/merchant/{slug}/v1/auth/login", json={"username": "owner", "password": password}
    )
    assert login.status_code == 200, login.text
    return Merchant(
        slug=slug,
        id=body["tenant"]["id"],
        token=login.json()["token"],
        password=password,
        plan=plan,
    )


async def enable(
    client: httpx.AsyncClient,
    merchant: Merchant,
    plugin: str,
    settings: dict[str, Any] | None = None,
) -> httpx.Response:
    return await client.post(
        f"{merchant.merchant}/plugins/{plugin}/enable",
        json={"settings": settings},
        headers=merchant.auth,
    )


@dataclass
class Shopper:
    id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_member(rt: Runtime, merchant: Merchant, nickname: str = "buyer") -> Shopper:
    """A member created straight in the database with a real token, for tests whose subject
    is not the WeChat login (``wx_login`` goes through it end to end)."""
    async with rt.db.tenant_session(merchant.id) as session:
        member = Member(openid=f"o-{secrets.token_hex(8)}", nickname=nickname)
        session.add(member)
        await session.flush()
        member_id = member.id
    token, _ = issue_access_token(rt.settings.secret_key, merchant.id, member_id)
    return Shopper(id=member_id, token=token)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert a problem+json answer with this status and stable code; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status, body
    return body


async def eventually(
    check: Callable[[], Any], within_s: float = 15.0, what: str = "a condition"
) -> Any:
    """Poll ``check`` (sync or async) until it holds: it returns something other than False
    and raises no AssertionError. For what a job or a notification does elsewhere; the time
    is generous because CI machines are slow. Returns what ``check`` returned."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result is not False:
                return result
            failure: AssertionError | None = None
        except AssertionError as exc:
            failure = exc
        if loop.time() >= deadline:
            raise AssertionError(f"timed out waiting for {what}") from failure
        await asyncio.sleep(0.02)


@dataclass
class Staff:
    id: str
    auth: dict[str, str]  # the Authorization header of their signed-in session
    username: str = ""
    password: str = ""  # the initial one, for signing in to the console too


async def new_staff(client: httpx.AsyncClient, merchant: Merchant, role: str = "clerk") -> Staff:
    """A new staff member of ``role`` (clerk, manager), signed in."""
    username = f"{role}-{secrets.token_hex(3)}"
    made = await client.post(
        f"{merchant.merchant}/staff/",
        headers=merchant.auth,
        json={"username": username, "role": role},
    )
    assert made.status_code == 201, made.text
    password = made.json()["initial_password"]
    login = await client.post(
        f"{merchant.merchant}/auth/login", json={"username": username, "password": password}
    )
    assert login.status_code == 200, login.text
    return Staff(
        id=made.json()["staff"]["id"],
        auth={"Authorization": f"Bearer {login.json()['token']}"},
        username=username,
        password=password,
    )


async def staff_auth(client: httpx.AsyncClient, merchant: Merchant, role: str) -> dict[str, str]:
    """The Authorization header of a new, signed-in staff member of ``role``."""
    return (await new_staff(client, merchant, role)).auth


def _compare(connection: Connection, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def migration_drift(settings: Settings, metadata: MetaData = Base.metadata) -> list[Any]:
    """What alembic's autogenerate would change to make the migrated database match the
    models: ``[]`` when the migrations (the core's and every plugin's branch) and the models
    agree. The plugins' models are on ``Base.metadata`` once the app's registry loaded them
    (take the ``rt`` fixture)."""
    engine = create_engine(settings.owner_database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_compare, metadata)
    finally:
        await engine.dispose()
