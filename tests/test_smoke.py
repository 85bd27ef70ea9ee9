from __future__ import annotations

import httpx

from storeplug.testing import VENDOR, ensure_plan, onboard, unique_slug


async def test_health_and_schema(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    assert "/vendor/v1/tenants" in schema.json()["paths"]


async def test_onboard_and_login(client: httpx.AsyncClient) -> None:
    merchant = await onboard(client)
    me = await client.get(f"{merchant.merchant}/auth/me", headers=merchant.auth)
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "owner"
    listed = await client.get("/vendor/v1/tenants", headers=VENDOR)
    assert listed.status_code == 200


async def test_request_ids(client: httpx.AsyncClient) -> None:
    made_up = await client.get("/healthz")
    assert len(made_up.headers["x-request-id"]) == 16
    echoed = await client.get("/healthz", headers={"X-Request-ID": "pos-42.abc"})
    assert echoed.headers["x-request-id"] == "pos-42.abc"
    hostile = await client.get("/healthz", headers={"X-Request-ID": "a b\tc" * 30})
    assert hostile.headers["x-request-id"] != "a b\tc" * 30


async def test_unknown_routes_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == "not_found"
    wrong_method = await client.delete("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"
    bad_json = await client.post(
        "/vendor/v1/tenants",
        content=b"{not json",
        headers={**VENDOR, "content-type": "application/json"},
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["code"] == "request.invalid"


async def test_values_the_database_refuses_are_a_400(
    client: httpx.AsyncClient, backend: str
) -> None:
    """NUL characters pass JSON decoding but PostgreSQL cannot store them: a 400, never a
    500, whichever field they hide in (here the free-form contact of a new tenant). SQLite
    stores them as they are."""
    body = {
        "slug": unique_slug(),
        "name": "Nul Shop",
        "plan": "test-pro",
        "contact": {"name": "a\x00b"},
    }
    await ensure_plan(client, "test-pro", ["echo"])
    response = await client.post("/vendor/v1/tenants", json=body, headers=VENDOR)
    if backend == "postgres":
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "request.invalid"
    else:
        assert response.status_code == 201, response.text
