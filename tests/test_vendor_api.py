"""The vendor API: plans, onboarding, listing with cursors, updates, suspend and resume."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from storeplug.testing import VENDOR, ensure_plan, problem, unique_slug

PROBLEM = "application/problem+json"
PLAN = "test-pro"


def error_fields(body: dict[str, Any]) -> set[str]:
    return {str(e["field"]) for e in body.get("errors", [])}


async def create_tenant(
    client: httpx.AsyncClient, slug: str | None = None, **extra: Any
) -> httpx.Response:
    slug = slug or unique_slug("vend")
    payload = {"slug": slug, "name": f"Shop {slug}", "plan": PLAN, **extra}
    return await client.post("/vendor/v1/tenants", json=payload, headers=VENDOR)


@pytest.fixture
async def plan(client: httpx.AsyncClient) -> str:
    await ensure_plan(client, PLAN, ["echo"])
    return PLAN


async def test_onboarding_password_logs_in_once_shown(client: httpx.AsyncClient, plan: str) -> None:
    slug = unique_slug("vend")
    response = await create_tenant(client, slug, owner_username="boss")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["tenant"]["slug"] == slug
    assert body["tenant"]["status"] == "active"
    assert body["tenant"]["plan"] == plan
    owner = body["owner"]
    assert owner["username"] == "boss"
    password = owner["initial_password"]
    assert isinstance(password, str) and len(password) >= 12

    login = await client.post(
        f"/merchant/{slug}/v1/auth/login", json={"username": "boss", "password": password}
    )
    assert login.status_code == 200, login.text
    assert login.json()["staff"]["role"] == "owner"
    assert login.json()["staff"]["must_change_password"] is True
    wrong = await client.post(
        f"/merchant/{slug}/v1/auth/login", json={"username": "boss", "password": password + "x"}
    )
    problem(wrong, 401, "auth.invalid_credentials")

    # Shown once: nothing the vendor can read later carries it.
    fetched = await client.get(f"/vendor/v1/tenants/{slug}", headers=VENDOR)
    assert fetched.status_code == 200, fetched.text
    assert password not in fetched.text and "initial_password" not in fetched.text


async def test_onboarding_refusals(client: httpx.AsyncClient, plan: str) -> None:
    slug = unique_slug("vend")
    assert (await create_tenant(client, slug)).status_code == 201
    problem(await create_tenant(client, slug), 409, "tenant.slug_taken")

    unknown = await client.post(
        "/vendor/v1/tenants",
        json={"slug": unique_slug("vend"), "name": "X", "plan": "no-such-plan"},
        headers=VENDOR,
    )
    problem(unknown, 422, "plan.unknown")

    for bad in ("UpperCase", "ab", "has space", "-leading", "trailing-", "x" * 41):
        body = problem(await create_tenant(client, bad), 400, "request.invalid")
        assert "slug" in error_fields(body), (bad, body)

    missing = await client.post("/vendor/v1/tenants", json={"slug": "no-name"}, headers=VENDOR)
    problem(missing, 400, "request.invalid")
    extra = await create_tenant(client, unique_slug("vend"), surprise=True)
    problem(extra, 400, "request.invalid")


async def test_list_pages_by_cursor(client: httpx.AsyncClient, plan: str) -> None:
    created: list[str] = []
    for _ in range(3):
        response = await create_tenant(client)
        assert response.status_code == 201, response.text
        created.append(response.json()["tenant"]["id"])

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get("/vendor/v1/tenants", params=params, headers=VENDOR)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["items"]) == 2, "a page before the last one is full"
        assert pages < 10_000, "paging does not end"
    assert pages >= 2
    assert len(seen) == len(set(seen)), "no tenant is listed twice"
    assert set(created) <= set(seen)
    assert seen == sorted(seen), "ordered by id"

    suspended = await client.get(
        "/vendor/v1/tenants", params={"status": "suspended", "limit": 100}, headers=VENDOR
    )
    assert suspended.status_code == 200, suspended.text
    assert all(t["status"] == "suspended" for t in suspended.json()["items"])


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 0}, "request.invalid"),
        ({"limit": 1000}, "request.invalid"),
        ({"limit": "many"}, "request.invalid"),
        ({"status": "deleted"}, "request.invalid"),
        ({"cursor": "***"}, "request.invalid_cursor"),
        ({"cursor": base64.urlsafe_b64encode(b"x' OR 1=1").decode()}, "request.invalid_cursor"),
        ({"cursor": "\u00e9\u00e9\u00e9\u00e9"}, "request.invalid_cursor"),
    ],
)
async def test_list_refuses_bad_paging(
    client: httpx.AsyncClient, params: dict[str, str | int], code: str
) -> None:
    response = await client.get("/vendor/v1/tenants", params=params, headers=VENDOR)
    problem(response, 400, code)


async def test_get_patch_suspend_resume(client: httpx.AsyncClient, plan: str) -> None:
    slug = unique_slug("vend")
    assert (await create_tenant(client, slug)).status_code == 201
    url = f"/vendor/v1/tenants/{slug}"

    got = await client.get(url, headers=VENDOR)
    assert got.status_code == 200, got.text
    assert got.json()["slug"] == slug
    problem(
        await client.get("/vendor/v1/tenants/no-such-shop", headers=VENDOR), 404, "tenant.not_found"
    )

    branding = {"display_name": "Blue", "primary_color": "#123456", "secondary_color": "#abcdef"}
    patched = await client.patch(
        url, json={"name": "Renamed", "branding": branding}, headers=VENDOR
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Renamed"
    assert patched.json()["branding"]["primary_color"] == "#123456"
    assert patched.json()["branding"]["secondary_color"] == "#abcdef"
    store = await client.get(f"/store/{slug}/v1/store/")
    assert store.status_code == 200, store.text
    assert store.json()["name"] == "Renamed"
    assert store.json()["branding"]["primary_color"] == "#123456"

    for bad in ("#12345", "123456", "#1234567", "#GGGGGG", "red"):
        body = problem(
            await client.patch(url, json={"branding": {"primary_color": bad}}, headers=VENDOR),
            400,
            "request.invalid",
        )
        assert any("primary_color" in f for f in error_fields(body)), body
    problem(await client.patch(url, json={"name": ""}, headers=VENDOR), 400, "request.invalid")
    problem(
        await client.patch(url, json={"plan": "no-such-plan"}, headers=VENDOR), 422, "plan.unknown"
    )
    problem(
        await client.patch("/vendor/v1/tenants/no-such-shop", json={"name": "x"}, headers=VENDOR),
        404,
        "tenant.not_found",
    )
    # A refused change left everything as it was.
    unchanged = (await client.get(url, headers=VENDOR)).json()
    assert unchanged["name"] == "Renamed" and unchanged["plan"] == plan
    assert unchanged["branding"]["primary_color"] == "#123456"

    suspended = await client.post(f"{url}/suspend", headers=VENDOR)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    assert (await client.get(url, headers=VENDOR)).json()["status"] == "suspended"
    problem(await client.get(f"/store/{slug}/v1/store/"), 403, "tenant.suspended")

    resumed = await client.post(f"{url}/resume", headers=VENDOR)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "active"
    assert (await client.get(f"/store/{slug}/v1/store/")).status_code == 200
    problem(
        await client.post("/vendor/v1/tenants/no-such-shop/suspend", headers=VENDOR),
        404,
        "tenant.not_found",
    )


async def test_plans(client: httpx.AsyncClient) -> None:
    code = unique_slug("plan")
    put = await client.put(
        f"/vendor/v1/plans/{code}",
        json={"code": code, "name": "Basic", "plugins": ["echo", "echo"]},
        headers=VENDOR,
    )
    assert put.status_code == 200, put.text
    assert put.json() == {"code": code, "name": "Basic", "plugins": ["echo"]}

    replaced = await client.put(
        f"/vendor/v1/plans/{code}", json={"code": code, "name": "Basic 2"}, headers=VENDOR
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() == {"code": code, "name": "Basic 2", "plugins": []}

    listed = await client.get("/vendor/v1/plans/", headers=VENDOR)
    assert listed.status_code == 200, listed.text
    assert {"code": code, "name": "Basic 2", "plugins": []} in listed.json()

    mismatch = await client.put(
        f"/vendor/v1/plans/{code}", json={"code": "other", "name": "X"}, headers=VENDOR
    )
    problem(mismatch, 400, "plan.code_mismatch")
    bad_code = await client.put(
        "/vendor/v1/plans/Bad Code", json={"code": "Bad Code", "name": "X"}, headers=VENDOR
    )
    problem(bad_code, 400, "request.invalid")
