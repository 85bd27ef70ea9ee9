"""Tenancy walls: the metadata rule, PostgreSQL row-level security as the app role, the ORM
wall, a cross-tenant walk of every merchant route, the vendor guard and suspended stores."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Table, select, text
from sqlalchemy.exc import DBAPIError

import core.models  # noqa: F401  (registers the core tables on Base.metadata)
import tenants.models  # noqa: F401
from core.db import Base, TenantScopeError, new_id
from core.runtime import Runtime
from storeplug.testing import VENDOR, Merchant, enable, onboard
from storeplug.testing.backends import PG_APP_ROLE
from tenants.models import StaffUser

SHARED_TABLES = {"plans", "tenants", "vendor_users", "vendor_sessions"}
MERCHANT_PREFIX = "/merchant/{tenant_slug}/v1"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
PROBLEM = "application/problem+json"
# Merchant routes that take no credentials by design (they read their body first).
PUBLIC_MERCHANT_ROUTES = {"POST /merchant/{tenant_slug}/v1/auth/login"}


def tenant_tables() -> list[Table]:
    return [t for t in Base.metadata.sorted_tables if not t.info.get("shared")]


async def openapi_paths(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    paths: dict[str, dict[str, Any]] = response.json()["paths"]
    return paths


def problem_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    code: str = response.json()["code"]
    return code


# ---- 1. the metadata rule ----------------------------------------------------------------


def test_every_table_is_shared_or_keyed_by_tenant(rt: Runtime) -> None:
    # ``rt`` built the plugin registry, which imported every plugin's models onto Base.
    assert "echo_charges" in Base.metadata.tables, "plugin tables must be checked too"
    shared = {name for name, t in Base.metadata.tables.items() if t.info.get("shared")}
    assert shared == SHARED_TABLES, "a new shared table must be a conscious choice"

    problems: list[str] = []
    for table in tenant_tables():
        pk = [c.name for c in table.primary_key.columns]
        if not pk or pk[0] != "tenant_id":
            problems.append(f"{table.name}: primary key {pk} does not start with tenant_id")
        for fk in table.foreign_key_constraints:
            local = [c.name for c in fk.columns]
            target = fk.referred_table
            if target.name == "tenants":
                if local != ["tenant_id"]:
                    problems.append(f"{table.name}: FK {local} -> tenants must be tenant_id only")
                continue
            pairs = {el.parent.name: el.column for el in fk.elements}
            if "tenant_id" not in pairs:
                problems.append(f"{table.name}: FK {local} -> {target.name} lacks tenant_id")
            elif target.info.get("shared") or pairs["tenant_id"].name != "tenant_id":
                problems.append(
                    f"{table.name}: FK {local} -> {target.name} must pair tenant_id with "
                    f"{target.name}.tenant_id"
                )
    assert not problems, "\n".join(problems)


# ---- 2. PostgreSQL row-level security, raw SQL as the app role ---------------------------


async def test_postgres_rls_as_app_role(
    backend: str, rt: Runtime, client: httpx.AsyncClient
) -> None:
    if backend != "postgres":
        pytest.skip("row-level security exists on PostgreSQL only")
    a = await onboard(client)
    b = await onboard(client)
    engine = rt.db.engine

    async with engine.connect() as conn:
        role = await conn.scalar(text("SELECT current_user"))
        assert role == PG_APP_ROLE
        super_, bypass = (
            await conn.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
        assert super_ is False and bypass is False
        owners: dict[str, str] = dict(
            (
                await conn.execute(
                    text("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'")
                )
            ).all()
        )
        for name in Base.metadata.tables:
            assert name in owners, f"{name} is not in the database"
            assert owners[name] != PG_APP_ROLE, f"the app role owns {name}"
        flags = {
            name: (rls, force)
            for name, rls, force in (
                await conn.execute(
                    text(
                        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND c.relkind = 'r'"
                    )
                )
            ).all()
        }
        policies: dict[str, list[tuple[str, str, str]]] = {}
        for name, cmd, qual, check in (
            await conn.execute(
                text(
                    "SELECT tablename, cmd, qual, with_check FROM pg_policies "
                    "WHERE schemaname = 'public'"
                )
            )
        ).all():
            policies.setdefault(name, []).append((cmd, qual or "", check or ""))
        for table in tenant_tables():
            assert flags[table.name] == (True, True), f"{table.name}: RLS not enabled + forced"
            assert table.name in policies, f"{table.name}: no policy"
            # One policy for every command, on the transaction's tenant setting, reads and writes.
            assert any(
                cmd == "ALL" and "app.tenant_id" in qual and "app.tenant_id" in check
                for cmd, qual, check in policies[table.name]
            ), f"{table.name}: {policies[table.name]}"
        await conn.rollback()

    # Set to A: only A's rows.
    async with engine.connect() as conn, conn.begin():
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": a.id})
        seen = (await conn.execute(text("SELECT tenant_id FROM staff_users"))).scalars().all()
        assert seen, "tenant A's owner must be visible"
        assert set(seen) == {a.id}

    # Unset (a fresh transaction): no rows at all, fail closed.
    async with engine.connect() as conn, conn.begin():
        count = await conn.scalar(text("SELECT count(*) FROM staff_users"))
        assert count == 0
    async with engine.connect() as conn:
        # Also on the same connection right after a transaction that had it set.
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": a.id})
        assert await conn.scalar(text("SELECT count(*) FROM staff_users")) == 1
        await conn.commit()
        assert await conn.scalar(text("SELECT count(*) FROM staff_users")) == 0
        await conn.rollback()

    # Set to A, writing a row for B: refused by the policy's WITH CHECK.
    async with engine.connect() as conn:
        await conn.begin()
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": a.id})
        with pytest.raises(DBAPIError, match="row-level security"):
            await conn.execute(
                text(
                    "INSERT INTO staff_users (tenant_id, id, username, display_name, role, "
                    "password_hash, active, must_change_password, created_at) VALUES "
                    "(:t, :id, 'intruder', '', 'owner', 'x', true, false, now())"
                ),
                {"t": b.id, "id": new_id()},
            )
        await conn.rollback()

    # B's row count is unchanged, seen as B.
    async with engine.connect() as conn, conn.begin():
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": b.id})
        names = (await conn.execute(text("SELECT username FROM staff_users"))).scalars().all()
        assert names == ["owner"]


# ---- 3. the ORM wall ---------------------------------------------------------------------


async def test_orm_wall(rt: Runtime, client: httpx.AsyncClient) -> None:
    a = await onboard(client)
    b = await onboard(client)

    async with rt.db.shared_session() as session:
        with pytest.raises(TenantScopeError):
            await session.scalars(select(StaffUser))
        with pytest.raises(TenantScopeError):
            await session.get(StaffUser, (a.id, new_id()))

    async with rt.db.tenant_session(a.id) as session:
        rows = (await session.scalars(select(StaffUser))).all()
        assert rows and {r.tenant_id for r in rows} == {a.id}
        # Even asking for B's rows explicitly finds none.
        theirs = (await session.scalars(select(StaffUser).where(StaffUser.tenant_id == b.id))).all()
        assert theirs == []

    async with rt.db.tenant_session(b.id) as session:
        assert [r.tenant_id for r in await session.scalars(select(StaffUser))] == [b.id]

    with pytest.raises(TenantScopeError):
        async with rt.db.tenant_session(a.id) as session:
            session.add(
                StaffUser(tenant_id=b.id, username="intruder", role="owner", password_hash="x")
            )
            await session.flush()

    with pytest.raises(TenantScopeError):
        async with rt.db.shared_session() as session:
            session.add(StaffUser(username="nobody", role="owner", password_hash="x"))
            await session.flush()

    async with rt.db.tenant_session(b.id) as session:
        names = [r.username for r in await session.scalars(select(StaffUser))]
        assert names == ["owner"], "nothing was written for B"


# ---- 4. the cross-tenant walk ------------------------------------------------------------


async def _api_key(client: httpx.AsyncClient, merchant: Merchant) -> tuple[str, str]:
    response = await client.post(
        f"{merchant.merchant}/api-keys", json={"name": "erp"}, headers=merchant.auth
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["key"], body["api_key"]["id"]


async def test_cross_tenant_walk(client: httpx.AsyncClient) -> None:
    a = await onboard(client)
    b = await onboard(client)
    # Plugin routes are reachable on B, so the plugin guard does not answer for the auth.
    for merchant in (a, b):
        assert (await enable(client, merchant, "echo")).status_code == 200
    a_key, _ = await _api_key(client, a)
    _, b_key_id = await _api_key(client, b)
    me = await client.get(f"{b.merchant}/auth/me", headers=b.auth)
    assert me.status_code == 200, me.text
    real_ids = {"staff_id": me.json()["id"], "key_id": b_key_id, "name": "echo"}

    credentials = {
        "A's owner session": {"Authorization": f"Bearer {a.token}"},
        "A's API key": {"Authorization": f"Bearer {a_key}"},
        "no token": {},
    }
    # A plausible body, and one that is not JSON at all: neither may be read before the
    # caller is known, so both must get the same auth answer.
    bodies: dict[str, bytes] = {"{}": b"{}", "malformed JSON": b"{not json"}
    paths = await openapi_paths(client)
    walked: list[str] = []
    failures: list[str] = []
    for template, item in sorted(paths.items()):
        if not template.startswith(MERCHANT_PREFIX):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            route = f"{method.upper()} {template}"
            walked.append(route)
            if route in PUBLIC_MERCHANT_ROUTES:
                continue
            path = template.replace("{tenant_slug}", b.slug)
            for param in [*item.get("parameters", []), *operation.get("parameters", [])]:
                if param.get("in") == "path" and param["name"] != "tenant_slug":
                    name = param["name"]
                    path = path.replace(f"{{{name}}}", real_ids.get(name, new_id()))
            assert "{" not in path, f"unfilled path parameter in {path}"
            sends = bodies if method in ("post", "put", "patch") else {"no body": None}
            for who, headers in credentials.items():
                for what, content in sends.items():
                    if content is not None:
                        headers = {**headers, "Content-Type": "application/json"}
                    response = await client.request(method, path, content=content, headers=headers)
                    if response.status_code not in (401, 403, 404):
                        failures.append(
                            f"{route} with {who}, {what}: {response.status_code} "
                            f"{response.text[:200]}"
                        )
    assert len(walked) >= 10, f"the walk found only {walked}"
    assert set(PUBLIC_MERCHANT_ROUTES) <= set(walked), "the public routes moved; update the list"
    assert "POST /merchant/{tenant_slug}/v1/echo/charges" in walked, "plugin routes are walked"
    assert not failures, "cross-tenant calls must be refused before anything else:\n" + "\n".join(
        failures
    )

    # The one public route: A's owner password does not open B's owner account.
    login = await client.post(
        f"{b.merchant}/auth/login", json={"username": "owner", "password": a.password}
    )
    assert login.status_code == 401, login.text
    assert problem_code(login) == "auth.invalid_credentials"

    # A's own credentials still work on A (the walk refused B, not everything).
    for headers in (a.auth, {"Authorization": f"Bearer {a_key}"}):
        ok = await client.get(f"{a.merchant}/plugins/", headers=headers)
        assert ok.status_code == 200, ok.text


# ---- 5. the vendor guard -----------------------------------------------------------------


async def test_vendor_routes_need_the_vendor_token(client: httpx.AsyncClient) -> None:
    paths = await openapi_paths(client)
    walked = 0
    for template, item in sorted(paths.items()):
        if not template.startswith("/vendor/v1/"):
            continue
        path = template.replace("{slug}", "some-shop").replace("{code}", "some-plan")
        assert "{" not in path, f"unfilled path parameter in {template}"
        for method in HTTP_METHODS:
            if method not in item:
                continue
            walked += 1
            body: dict[str, Any] | None = {} if method in ("post", "put", "patch") else None
            cases = {
                "auth.required": {},
                "auth.invalid_token": {"Authorization": "Bearer spv_wrong-token"},
            }
            for code, headers in cases.items():
                response = await client.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (method, path, response.text)
                assert problem_code(response) == code, (method, path, response.text)
    assert walked >= 7, f"only {walked} vendor operations found"


# ---- 6. suspended and unknown stores -----------------------------------------------------


async def test_suspended_store_answers_403(client: httpx.AsyncClient) -> None:
    merchant = await onboard(client)
    store = f"{merchant.store}/store/"
    assert (await client.get(store)).status_code == 200

    suspended = await client.post(f"/vendor/v1/tenants/{merchant.slug}/suspend", headers=VENDOR)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    response = await client.get(store)
    assert response.status_code == 403, response.text
    assert problem_code(response) == "tenant.suspended"

    resumed = await client.post(f"/vendor/v1/tenants/{merchant.slug}/resume", headers=VENDOR)
    assert resumed.status_code == 200, resumed.text
    response = await client.get(store)
    assert response.status_code == 200, response.text
    assert response.json()["slug"] == merchant.slug

    unknown = await client.get("/store/no-such-shop-here/v1/store/")
    assert unknown.status_code == 404, unknown.text
    assert problem_code(unknown) == "tenant.not_found"
