"""``storeplug demo``: an embedded SQLite store, seeded once, served on localhost."""

from __future__ import annotations

import asyncio
import secrets

import uvicorn
from sqlalchemy import select

from core.auth import hash_password
from core.catalog import products
from core.catalog import schemas as catalog
from core.catalog.models import Category
from core.context import Principal, TenantContext
from core.coupons import admin as coupons
from core.coupons import schemas as coupon_schemas
from core.coupons.models import CouponTemplate
from core.errors import Conflict
from core.members.models import Address, Member
from core.members.tokens import issue_access_token
from core.payments import accounts
from core.payments.models import PaymentAccount
from core.payments.schemas import AccountIn
from core.runtime import Runtime
from core.settings import Settings
from core.tenancy.models import Tenant
from storeplug.app import create_app
from storeplug.runtime import build_runtime, upgrade_database
from tenants import schemas, service, vendor_users
from tenants.models import StaffUser

DEMO_SLUG = "demo"
DEMO_OPERATOR = "operator"
DEMO_OPENID = "demo-openid"
MENU = [
    ("美式咖啡", "Americano", [({"杯型": "中杯"}, 1800), ({"杯型": "大杯"}, 2200)]),
    ("燕麦拿铁", "Oat latte", [({"杯型": "中杯"}, 2800), ({"杯型": "大杯"}, 3200)]),
    ("抹茶拿铁", "Matcha latte", [({"杯型": "中杯"}, 3000)]),
]


async def seed_catalog(runtime: Runtime) -> None:
    """A small coffee menu, so the storefront has something to browse and buy."""
    tenant = await runtime.tenants.resolve(DEMO_SLUG)
    async with runtime.tenant_context(tenant) as ctx:
        if await ctx.session.scalar(select(Category.id)) is not None:
            return
        owner = await ctx.session.scalar(select(StaffUser.id).where(StaffUser.role == "owner"))
        assert owner is not None
        # The seed acts as the store's owner would through the merchant API.
        ctx.principal = Principal(kind="staff", id=owner, role="owner", tenant_id=tenant.id)
        category = Category(name="咖啡")
        ctx.session.add(category)
        await ctx.session.flush()
        for title, subtitle, skus in MENU:
            await products.create_product(
                ctx,
                catalog.ProductIn(
                    title=title,
                    subtitle=subtitle,
                    category_id=category.id,
                    status="on",
                    skus=[
                        catalog.SkuIn(specs=specs, price=price, stock=50) for specs, price in skus
                    ],
                ),
            )
        buyer = Member(openid=DEMO_OPENID, nickname="Demo buyer")
        ctx.session.add(buyer)
        await ctx.session.flush()
        ctx.session.add(
            Address(
                member_id=buyer.id,
                name="Demo buyer",
                phone="13800000000",
                province="上海市",
                city="上海市",
                district="徐汇区",
                detail="漕溪北路 1 号",
                is_default=True,
            )
        )


async def seed_checkout(runtime: Runtime) -> None:
    """What lets the demo buyer check out and pay, added to older demo databases too: the
    sandbox provider (it takes no money, so only a deployment that allows it offers it) and
    a claimable 满30减5 coupon."""
    tenant = await runtime.tenants.resolve(DEMO_SLUG)
    async with runtime.tenant_context(tenant) as ctx:
        owner = await ctx.session.scalar(select(StaffUser.id).where(StaffUser.role == "owner"))
        assert owner is not None
        ctx.principal = Principal(kind="staff", id=owner, role="owner", tenant_id=tenant.id)
        active = await ctx.session.scalar(select(PaymentAccount).where(PaymentAccount.active))
        if active is None and runtime.settings.allow_sandbox_payments:
            await accounts.save_account(ctx, runtime, "sandbox", AccountIn(config={}, active=True))
        if await ctx.session.scalar(select(CouponTemplate.id)) is None:
            await seed_coupon(ctx)


async def seed_coupon(ctx: TenantContext) -> None:
    await coupons.create_template(
        ctx,
        coupon_schemas.TemplateIn(
            name="满30减5",
            kind="threshold",
            amount=500,
            min_spend=3000,
            valid_days=30,
            total_stock=1000,
        ),
    )


async def demo_member_token(runtime: Runtime, tenant_id: str) -> str:
    """The demo cannot reach WeChat, so it prints a token for its seeded buyer."""
    async with runtime.db.tenant_session(tenant_id) as session:
        member_id = await session.scalar(select(Member.id).where(Member.openid == DEMO_OPENID))
    assert member_id is not None
    return issue_access_token(runtime.settings.secret_key, tenant_id, member_id)[0]


async def seed(runtime: Runtime) -> tuple[str, str, str]:
    """Create the demo plans, merchant, menu and vendor operator if missing; return a fresh
    owner password, a member token for the demo buyer and the operator's password."""
    password = await seed_merchant(runtime)
    async with runtime.db.shared_session() as session:
        tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == DEMO_SLUG))
    assert tenant_id is not None
    await seed_catalog(runtime)
    await seed_checkout(runtime)
    operator = await seed_operator(runtime)
    return password, await demo_member_token(runtime, tenant_id), operator


async def seed_operator(runtime: Runtime) -> str:
    """The vendor console's ``operator``, with a new one-time password every run."""
    try:
        made = await vendor_users.create(
            runtime, schemas.VendorUserCreate(username=DEMO_OPERATOR, display_name="Demo")
        )
    except Conflict:
        made = await vendor_users.reset_password(runtime, DEMO_OPERATOR)
    return made.initial_password


async def seed_merchant(runtime: Runtime) -> str:
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
    upgrade_database(settings)
    runtime = build_runtime(settings)

    async def seed_and_close() -> tuple[str, str, str]:
        try:
            return await seed(runtime)
        finally:
            await runtime.db.dispose()

    password, member_token, operator = asyncio.run(seed_and_close())
    base = f"http://{settings.host}:{port}"
    print(
        f"""
storeplug demo — database {settings.database_url}

  Health          {base}/healthz
  OpenAPI         {base}/schema  (JSON: {base}/schema/openapi.json)
  Vendor API      {base}/vendor/v1/tenants
  Vendor token    {settings.vendor_token}
  Vendor console  {base}/vendor/console/  username: {DEMO_OPERATOR}   password: {operator}
  Storefront API  {base}/store/{DEMO_SLUG}/v1/store
  Console         {base}/console/{DEMO_SLUG}/  (sign in with the merchant login)
  Merchant API    {base}/merchant/{DEMO_SLUG}/v1/auth/login
  Merchant login  username: owner   password: {password}
  Buyer token     {member_token}
                  (the demo has no WeChat; this member token is valid for 2 hours)

  curl {base}/store/{DEMO_SLUG}/v1/products
  curl -H 'Authorization: Bearer <buyer token>' {base}/store/{DEMO_SLUG}/v1/cart

  Check out and pay (the demo pays with the sandbox provider; no money moves):
  B='Authorization: Bearer <buyer token>'; S={base}/store/{DEMO_SLUG}/v1
  curl -H "$B" $S/me/addresses
  curl -H "$B" -H 'Idempotency-Key: order-1' -H 'Content-Type: application/json' \
       -d '{{"items": [{{"sku_id": "<sku id>", "quantity": 2}}], "fulfillment": "express",
            "fulfillment_data": {{"address_id": "<address id>"}}}}' $S/orders
  curl -H "$B" -H 'Idempotency-Key: pay-1' -H 'Content-Type: application/json' \
       -d '{{}}' $S/orders/<order id>/pay

  curl -H 'Authorization: Bearer {settings.vendor_token}' {base}/vendor/v1/tenants
""",
        flush=True,
    )
    if seed_only:
        return
    uvicorn.run(create_app(settings), host=settings.host, port=port, log_level="info")
