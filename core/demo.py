"""``storeplug demo``: an embedded SQLite store, seeded once, served on localhost."""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy import select

from core import migrate
from core.auth import hash_password
from core.runtime import Runtime
from core.settings import Settings
from tenants import schemas, service
from tenants.models import StaffUser, Tenant

DEMO_SLUG = "demo"


async def seed(runtime: Runtime) -> str:
    """Create the demo plans and merchant if missing; return a fresh owner password."""
    all_plugins = sorted(meta.feature for meta in runtime.plugins.metas.values())
    await service.put_plan(runtime, schemas.PlanIn(code="starter", name="Starter", plugins=[]))
    await service.put_plan(runtime, schemas.PlanIn(code="pro", name="Pro", plugins=all_plugins))
    async with runtime.db.shared_session() as session:
        tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == DEMO_SLUG))
    if tenant_id is None:
        created = await service.onboard(
            runtime,
            schemas.TenantCreate(
                slug=DEMO_SLUG,
                name="Demo Coffee",
                plan="pro",
                branding=schemas.BrandingIn(display_name="Demo Coffee", primary_color="#6F4E37"),
            ),
        )
        return created.owner.initial_password
    # The demo prints its login every run, so it sets a new password each time.
    password = secrets.token_urlsafe(12)
    async with runtime.db.tenant_session(tenant_id) as session:
        owner = await session.scalar(select(StaffUser).where(StaffUser.role == "owner"))
        assert owner is not None
        owner.password_hash = hash_password(password)
    return password


def run_demo(settings: Settings, port: int, seed_only: bool = False) -> None:
    import uvicorn

    from core.app import create_app

    migrate.upgrade(settings)
    runtime = Runtime.build(settings)

    async def seed_and_close() -> str:
        try:
            return await seed(runtime)
        finally:
            await runtime.db.dispose()

    password = asyncio.run(seed_and_close())
    base = f"http://{settings.host}:{port}"
    print(
        f"""
storeplug demo — database {settings.database_url}

  Health          {base}/healthz
  OpenAPI         {base}/schema  (JSON: {base}/schema/openapi.json)
  Vendor API      {base}/vendor/v1/tenants
  Vendor token    {settings.vendor_token}
  Storefront API  {base}/store/{DEMO_SLUG}/v1/store
  Merchant API    {base}/merchant/{DEMO_SLUG}/v1/auth/login
  Merchant login  username: owner   password: {password}

  curl -H 'Authorization: Bearer {settings.vendor_token}' {base}/vendor/v1/tenants
""",
        flush=True,
    )
    if seed_only:
        return
    uvicorn.run(create_app(settings), host=settings.host, port=port, log_level="info")
