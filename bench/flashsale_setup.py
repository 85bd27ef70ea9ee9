"""Setup of the flash sale benchmark: a fresh PostgreSQL database, a real multi-worker
``storeplug serve`` (and a ``storeplug worker``) as separate processes, and two stores seeded
over the HTTP APIs (members and SKUs written straight to the database, as the tests do): one
selling through the Redis gate, one in the database-only mode."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any
from urllib.parse import urlparse

import asyncpg
import httpx
from redis.asyncio import Redis

from core.catalog.models import Product, Sku
from core.db import utcnow
from core.members.models import Address, Member
from core.members.tokens import issue_access_token
from core.runtime import Runtime
from core.settings import Settings, load_settings
from storeplug.runtime import upgrade_database

DEFAULT_PG_SUPER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
DATABASE = "storeplug_bench_flashsale"
APP_ROLE = "storeplug_bench_app"
APP_PASSWORD = "storeplug_bench_app"
VENDOR_TOKEN = "spv_bench-vendor-token"
SECRET = "bench-secret-key-0123456789abcdefghijklmnop"
PLAN = "bench"
# The burst comes from one address: the per-IP limit is not what is measured here.
OPEN_LIMITS = {"buys_per_member": 1000, "buys_per_ip": 1_000_000}


@dataclass
class Store:
    slug: str
    tenant_id: str
    auth: dict[str, str]
    mode: str  # "redis" | "database"
    buyers: list[tuple[str, str, str]] = field(default_factory=list)  # member, token, address

    @property
    def store(self) -> str:
        return f"/store/{self.slug}/v1"

    @property
    def merchant(self) -> str:
        return f"/merchant/{self.slug}/v1"


async def fresh_database(super_url: str, database: str = DATABASE) -> tuple[str, str]:
    """(owner URL, app URL) of a new empty database; the app role has no BYPASSRLS."""
    conn = await asyncpg.connect(super_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", APP_ROLE):
            await conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'")
    finally:
        await conn.close()
    owner = super_url.rsplit("/", 1)[0] + f"/{database}"
    conn = await asyncpg.connect(owner)
    try:
        await conn.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
        await conn.execute(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
        )
    finally:
        await conn.close()
    parsed = urlparse(super_url)
    host = f"{parsed.hostname or '127.0.0.1'}:{parsed.port or 5432}"
    app = f"postgresql+asyncpg://{APP_ROLE}:{APP_PASSWORD}@{host}/{database}"
    return owner.replace("postgresql://", "postgresql+asyncpg://", 1), app


async def drop_database(super_url: str, redis_url: str) -> None:
    conn = await asyncpg.connect(super_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    finally:
        await conn.close()
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()


async def settings_for(
    super_url: str, redis_url: str, port: int, workers: int, sandbox: bool = False
) -> Settings:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    owner, app = await fresh_database(super_url)
    settings = load_settings(
        {},
        database_url=app,
        migration_database_url=owner,
        redis_url=redis_url,
        vendor_token=VENDOR_TOKEN,
        secret_key=SECRET,
        port=port,
        workers=workers,
        log_level="WARNING",
        allow_sandbox_payments=sandbox,
    )
    await asyncio.to_thread(upgrade_database, settings)
    return settings


def start_processes(settings: Settings, log: IO[bytes]) -> list[subprocess.Popen[bytes]]:
    """``storeplug serve`` (settings.workers processes) and one ``storeplug worker``; their
    output goes to ``log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREPLUG_")}
    env.update(
        {
            "STOREPLUG_DATABASE_URL": settings.database_url,
            "STOREPLUG_MIGRATION_DATABASE_URL": settings.migration_database_url,
            "STOREPLUG_REDIS_URL": settings.redis_url,
            "STOREPLUG_VENDOR_TOKEN": VENDOR_TOKEN,
            "STOREPLUG_SECRET_KEY": SECRET,
            "STOREPLUG_PORT": str(settings.port),
            "STOREPLUG_WORKERS": str(settings.workers),
            "STOREPLUG_LOG_LEVEL": "WARNING",
            # The sandbox provider pays the group-buy bench's orders (it takes no money).
            "STOREPLUG_ALLOW_SANDBOX_PAYMENTS": "true" if settings.allow_sandbox_payments else "",
        }
    )
    return [
        subprocess.Popen(
            [sys.executable, "-m", "storeplug.cli", command], env=env, stdout=log, stderr=log
        )
        for command in ("serve", "worker")
    ]


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


async def wait_ready(http: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            if (await http.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become ready")


async def new_store(
    http: httpx.AsyncClient,
    mode: str,
    plugin: str = "flashsale",
    settings: dict[str, Any] | None = None,
) -> Store:
    """A tenant on a plan of ``plugin`` with the plugin on (by default a flash sale store
    selling through Redis, or in the database-only mode for ``mode="database"``)."""
    vendor = {"Authorization": f"Bearer {VENDOR_TOKEN}"}
    plan_code = f"{PLAN}-{plugin}"
    plan = {"code": plan_code, "name": "Bench", "plugins": [plugin]}
    assert (await http.put(f"/vendor/v1/plans/{plan_code}", json=plan, headers=vendor)).is_success
    slug = f"bench-{mode}-{secrets.token_hex(3)}"
    made = await http.post(
        "/vendor/v1/tenants", json={"slug": slug, "name": slug, "plan": plan_code}, headers=vendor
    )
    body = made.json()
    login = await http.post(
        f"/merchant/{slug}/v1/auth/login",
        json={"username": "owner", "password": body["owner"]["initial_password"]},
    )
    auth = {"Authorization": f"Bearer {login.json()['token']}"}
    store = Store(slug=slug, tenant_id=body["tenant"]["id"], auth=auth, mode=mode)
    if settings is None:
        settings = {**OPEN_LIMITS, "use_redis": mode == "redis"}
    enabled = await http.post(
        f"{store.merchant}/plugins/{plugin}/enable", json={"settings": settings}, headers=auth
    )
    assert enabled.is_success, enabled.text
    return store


async def seed_buyers(rt: Runtime, store: Store, count: int) -> None:
    async with rt.db.tenant_session(store.tenant_id) as session:
        members = [Member(openid=f"o-{secrets.token_hex(8)}", nickname="b") for _ in range(count)]
        session.add_all(members)
        await session.flush()
        addresses = [
            Address(
                member_id=m.id,
                name="张三",
                phone="13800000000",
                province="广东省",
                city="深圳市",
                district="南山区",
                detail="科技园1号",
            )
            for m in members
        ]
        session.add_all(addresses)
        await session.flush()
        pairs = [(m.id, a.id) for m, a in zip(members, addresses, strict=True)]
    store.buyers = [
        (mid, issue_access_token(SECRET, store.tenant_id, mid)[0], aid) for mid, aid in pairs
    ]


async def new_sale(
    rt: Runtime, http: httpx.AsyncClient, store: Store, units: int
) -> dict[str, Any]:
    """A SKU with ``units`` more than the sale needs, and a running sale of ``units``."""
    async with rt.db.tenant_session(store.tenant_id) as session:
        product = Product(title="电饭煲", status="on", images=[], min_price=29900)
        session.add(product)
        await session.flush()
        sku = Sku(product_id=product.id, specs={}, price=29900, stock=units * 2)
        session.add(sku)
        await session.flush()
        sku_id = sku.id
    start = utcnow() - timedelta(seconds=1)
    body = {
        "title": "bench",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
        "member_limit": 1,
        "order_limit": 1,
        "items": [{"sku_id": sku_id, "flash_price": 9900, "stock": units}],
    }
    url = f"{store.merchant}/flashsale/activities"
    created = await http.post(url, json=body, headers=store.auth)
    published = await http.post(f"{url}/{created.json()['id']}/publish", headers=store.auth)
    assert published.is_success, published.text
    activity: dict[str, Any] = published.json()
    return {"id": activity["id"], "sku_id": sku_id}
