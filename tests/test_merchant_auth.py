"""Merchant staff: login, sessions, password change, staff roles and API keys."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from core.db import utcnow
from core.runtime import Runtime
from storeplug.testing import Merchant, onboard
from tenants.models import StaffSession


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(
    client: httpx.AsyncClient, m: Merchant, username: str, password: str
) -> httpx.Response:
    return await client.post(
        f"{m.merchant}/auth/login", json={"username": username, "password": password}
    )


async def test_login_failures_look_alike(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    wrong = await login(client, m, "owner", "not-the-password")
    unknown = await login(client, m, "nobody", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "auth.invalid_credentials"
    assert (await client.get(f"{m.merchant}/auth/me")).json()["code"] == "auth.required"
    garbage = await client.get(f"{m.merchant}/auth/me", headers=bearer("sps_forged"))
    assert garbage.status_code == 401
    assert garbage.json()["code"] == "auth.invalid_token"


async def test_logout_and_expiry_end_the_session(client: httpx.AsyncClient, rt: Runtime) -> None:
    m = await onboard(client)
    assert (await client.get(f"{m.merchant}/auth/me", headers=m.auth)).status_code == 200
    assert (await client.post(f"{m.merchant}/auth/logout", headers=m.auth)).status_code == 204
    assert (await client.get(f"{m.merchant}/auth/me", headers=m.auth)).status_code == 401

    token = (await login(client, m, "owner", m.password)).json()["token"]
    async with rt.db.tenant_session(m.id) as session:
        await session.execute(
            update(StaffSession).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = await client.get(f"{m.merchant}/auth/me", headers=bearer(token))
    assert expired.status_code == 401


async def test_password_change(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    me = (await client.get(f"{m.merchant}/auth/me", headers=m.auth)).json()
    assert me["must_change_password"] is True
    url = f"{m.merchant}/auth/password"
    wrong = await client.post(
        url, headers=m.auth, json={"current_password": "nope", "new_password": "a-new-passw0rd"}
    )
    assert wrong.status_code == 401
    short = await client.post(
        url, headers=m.auth, json={"current_password": m.password, "new_password": "short"}
    )
    assert short.status_code == 400
    assert short.json()["code"] == "request.invalid"
    ok = await client.post(
        url, headers=m.auth, json={"current_password": m.password, "new_password": "a-new-passw0rd"}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["must_change_password"] is False
    assert (await login(client, m, "owner", m.password)).status_code == 401
    assert (await login(client, m, "owner", "a-new-passw0rd")).status_code == 200


async def test_staff_roles(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    made = {}
    for role in ("manager", "clerk"):
        response = await client.post(
            f"{m.merchant}/staff/", headers=m.auth, json={"username": f"{role}1", "role": role}
        )
        assert response.status_code == 201, response.text
        made[role] = response.json()
    dup = await client.post(
        f"{m.merchant}/staff/", headers=m.auth, json={"username": "clerk1", "role": "clerk"}
    )
    assert dup.status_code == 409
    assert dup.json()["code"] == "staff.username_taken"

    tokens = {}
    for role, body in made.items():
        response = await login(client, m, f"{role}1", body["initial_password"])
        assert response.status_code == 200
        tokens[role] = response.json()["token"]
    clerk, manager = bearer(tokens["clerk"]), bearer(tokens["manager"])
    denied = await client.get(f"{m.merchant}/staff/", headers=clerk)
    assert denied.status_code == 403
    assert denied.json()["code"] == "auth.role_required"
    listed = await client.get(f"{m.merchant}/staff/", headers=manager)
    assert {s["username"] for s in listed.json()} == {"owner", "manager1", "clerk1"}
    no_hire = await client.post(
        f"{m.merchant}/staff/", headers=manager, json={"username": "x-clerk", "role": "clerk"}
    )
    assert no_hire.status_code == 403

    clerk_id = made["clerk"]["staff"]["id"]
    off = await client.post(f"{m.merchant}/staff/{clerk_id}/deactivate", headers=m.auth)
    assert off.status_code == 200
    assert off.json()["active"] is False
    assert (await client.get(f"{m.merchant}/auth/me", headers=clerk)).status_code == 401
    relogin = await login(client, m, "clerk1", made["clerk"]["initial_password"])
    assert relogin.status_code == 401

    me = (await client.get(f"{m.merchant}/auth/me", headers=m.auth)).json()
    itself = await client.post(f"{m.merchant}/staff/{me['id']}/deactivate", headers=m.auth)
    assert itself.status_code == 409
    missing = await client.post(
        f"{m.merchant}/staff/01HZZZZZZZZZZZZZZZZZZZZZZZ/deactivate", headers=m.auth
    )
    assert missing.status_code == 404


async def test_api_keys(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    created = await client.post(
        f"{m.merchant}/api-keys/", headers=m.auth, json={"name": "ERP", "role": "manager"}
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("spk_")
    listed = (await client.get(f"{m.merchant}/api-keys/", headers=m.auth)).json()
    assert [k["prefix"] for k in listed] == [key[:10]]
    assert key not in created.text.replace(key, "", 1)  # shown exactly once
    assert all("key" not in k for k in listed)

    erp = bearer(key)
    assert (await client.get(f"{m.merchant}/plugins/", headers=erp)).status_code == 200
    no_keys = await client.post(f"{m.merchant}/api-keys/", headers=erp, json={"name": "x"})
    assert no_keys.status_code == 403
    assert no_keys.json()["code"] == "auth.staff_required"

    key_id = created.json()["api_key"]["id"]
    revoked = await client.post(f"{m.merchant}/api-keys/{key_id}/revoke", headers=m.auth)
    assert revoked.json()["revoked"] is True
    assert (await client.get(f"{m.merchant}/plugins/", headers=erp)).status_code == 401


async def test_repeated_failed_logins_lock_the_username(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    for _ in range(9):
        assert (await login(client, m, "owner", "wrong-password")).status_code == 401
    # A success clears the count...
    assert (await login(client, m, "owner", m.password)).status_code == 200
    for _ in range(10):
        assert (await login(client, m, "owner", "wrong-password")).status_code == 401
    # ...and ten failures in a row lock the name, even against the right password.
    locked = await login(client, m, "owner", m.password)
    assert locked.status_code == 429
    assert locked.json()["code"] == "auth.too_many_attempts"
    assert int(locked.headers["retry-after"]) > 0
    # Unknown names count the same way, so the lock does not reveal which names exist.
    for _ in range(10):
        await login(client, m, "nobody", "wrong-password")
    assert (await login(client, m, "nobody", "x")).json()["code"] == "auth.too_many_attempts"
    # Other names, and the same name at another store, are not affected.
    other = await onboard(client)
    assert (await login(client, other, "owner", other.password)).status_code == 200
