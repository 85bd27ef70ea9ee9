"""Small helpers that set up tenants over the real HTTP API."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.conftest import VENDOR_TOKEN

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
