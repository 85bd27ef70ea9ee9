"""Tenant business rules: plans, onboarding, staff, sessions, API keys and plugin settings.

No HTTP here; every function takes the runtime or a tenant context.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.auth import (
    hash_password,
    hash_token,
    new_token,
    require_role,
    require_staff,
    verify_password,
)
from core.context import Branding, Principal, TenantContext
from core.db import new_id, utcnow
from core.errors import AppError, Conflict, Forbidden, NotFound, Unauthorized
from core.paging import Page, keyset_page_of, keyset_paged
from core.ratelimit import FailureCounter
from core.runtime import Runtime
from core.tenancy.models import Plan, Tenant
from tenants import schemas as s
from tenants.models import ApiKey, StaffSession, StaffUser

SESSION_TTL = timedelta(hours=12)
STAFF_TOKEN_PREFIX = "sps"
API_KEY_PREFIX = "spk"


# ---- plans -------------------------------------------------------------------------------


def plan_out(plan: Plan) -> s.PlanOut:
    return s.PlanOut(code=plan.code, name=plan.name, plugins=list(plan.plugins))


async def list_plans(rt: Runtime) -> list[s.PlanOut]:
    async with rt.db.shared_session() as session:
        return [plan_out(p) for p in await session.scalars(select(Plan).order_by(Plan.code))]


async def put_plan(rt: Runtime, data: s.PlanIn) -> s.PlanOut:
    """Create or replace a plan. Tenants on it see the change on their next request."""
    async with rt.db.shared_session() as session:
        plan = await session.get(Plan, data.code)
        if plan is None:
            plan = Plan(code=data.code, name=data.name, plugins=sorted(set(data.plugins)))
            session.add(plan)
        else:
            plan.name, plan.plugins = data.name, sorted(set(data.plugins))
        slugs = (await session.scalars(select(Tenant.slug).where(Tenant.plan == data.code))).all()
    await rt.tenants.invalidate(*slugs)
    return plan_out(plan)


# ---- tenants (vendor side) ---------------------------------------------------------------


def tenant_out(tenant: Tenant) -> s.TenantOut:
    return s.TenantOut(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        plan=tenant.plan,
        status=tenant.status,
        branding=msgspec.convert(tenant.branding or {}, Branding),
        contact=msgspec.convert(tenant.contact or {}, s.Contact),
        created_at=tenant.created_at,
    )


def _initial_password() -> str:
    return secrets.token_urlsafe(12)


async def onboard(rt: Runtime, data: s.TenantCreate) -> s.TenantCreated:
    """Create the tenant and its owner in one transaction; the password is shown once."""
    tenant_id = new_id()
    password = _initial_password()
    try:
        async with rt.db.tenant_session(tenant_id) as session:
            if await session.get(Plan, data.plan) is None:
                raise AppError(f"no plan {data.plan!r}", code="plan.unknown", status=422)
            taken = await session.scalar(select(Tenant.id).where(Tenant.slug == data.slug))
            if taken is not None:
                raise Conflict(f"slug {data.slug!r} is taken", code="tenant.slug_taken")
            tenant = Tenant(
                id=tenant_id,
                slug=data.slug,
                name=data.name,
                plan=data.plan,
                status="active",
                branding=msgspec.to_builtins(data.branding),
                contact=msgspec.to_builtins(data.contact),
                created_at=utcnow(),
            )
            session.add(tenant)
            await session.flush()
            session.add(
                StaffUser(
                    username=data.owner_username,
                    display_name=data.name,
                    role="owner",
                    password_hash=hash_password(password),
                    must_change_password=True,
                )
            )
    except IntegrityError:
        # Two onboardings raced for one slug; the database kept exactly one.
        raise Conflict(f"slug {data.slug!r} is taken", code="tenant.slug_taken") from None
    # A process may have cached "no such store" for this slug.
    await rt.tenants.invalidate(data.slug)
    return s.TenantCreated(
        tenant=tenant_out(tenant),
        owner=s.OwnerCredentials(username=data.owner_username, initial_password=password),
    )


async def list_tenants(
    rt: Runtime,
    limit: int,
    cursor: str | None,
    status: str | None,
    q: str | None = None,
    *,
    newest_first: bool = False,
) -> Page[s.TenantOut]:
    """Tenants in onboarding order (the console shows the newest first, where an operator
    looks for the one just onboarded); ``q`` finds a part of the slug or the name (any case)."""
    query = select(Tenant)
    if status:
        query = query.where(Tenant.status == status)
    if q:
        query = query.where(
            Tenant.slug.icontains(q, autoescape=True) | Tenant.name.icontains(q, autoescape=True)
        )
    # The tag keeps a cursor of one order from being used in the other.
    tag = "newest" if newest_first else "oldest"
    query = keyset_paged(query, [(Tenant.id, newest_first)], limit, cursor, tag)
    async with rt.db.shared_session() as session:
        rows = (await session.scalars(query)).all()
    return keyset_page_of(rows, limit, tenant_out, lambda t: [t.id], tag)


async def _tenant_by_slug(session: Any, slug: str) -> Tenant:
    tenant = await session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}", code="tenant.not_found")
    return tenant  # type: ignore[no-any-return]


async def get_tenant(rt: Runtime, slug: str) -> s.TenantOut:
    async with rt.db.shared_session() as session:
        return tenant_out(await _tenant_by_slug(session, slug))


async def update_tenant(rt: Runtime, slug: str, data: s.TenantUpdate) -> s.TenantOut:
    async with rt.db.shared_session() as session:
        tenant = await _tenant_by_slug(session, slug)
        if data.plan is not None:
            if await session.get(Plan, data.plan) is None:
                raise AppError(f"no plan {data.plan!r}", code="plan.unknown", status=422)
            tenant.plan = data.plan
        if data.name is not None:
            tenant.name = data.name
        if data.branding is not None:
            tenant.branding = msgspec.to_builtins(data.branding)
        if data.contact is not None:
            tenant.contact = msgspec.to_builtins(data.contact)
    await rt.tenants.invalidate(slug)
    return tenant_out(tenant)


async def set_status(rt: Runtime, slug: str, status: str) -> s.TenantOut:
    async with rt.db.shared_session() as session:
        tenant = await _tenant_by_slug(session, slug)
        tenant.status = status
    await rt.tenants.invalidate(slug)
    return tenant_out(tenant)


# ---- staff, sessions and API keys --------------------------------------------------------


def staff_out(staff: StaffUser) -> s.StaffOut:
    return s.StaffOut(
        id=staff.id,
        username=staff.username,
        display_name=staff.display_name,
        role=staff.role,
        active=staff.active,
        must_change_password=staff.must_change_password,
        locale=staff.locale,
    )


async def login(ctx: TenantContext, data: s.LoginIn, failures: FailureCounter) -> s.LoginOut:
    # Throttled per username, known or not, so passwords cannot be guessed at speed and the
    # lock does not reveal which usernames exist.
    key = f"sp:{{rl:{ctx.tenant_id}}}:login:{data.username.lower()}"
    if await failures.blocked(key):
        raise AppError(
            "too many failed sign-ins; try again later",
            code="auth.too_many_attempts",
            status=429,
            headers={"Retry-After": str(failures.window_s)},
        )
    staff = await ctx.session.scalar(select(StaffUser).where(StaffUser.username == data.username))
    # verify_password runs even for an unknown user so timing does not reveal usernames.
    ok = verify_password(staff.password_hash if staff else None, data.password)
    if staff is None or not ok or not staff.active:
        await failures.fail(key)
        raise Unauthorized("wrong username or password", code="auth.invalid_credentials")
    await failures.clear(key)
    token = new_token(STAFF_TOKEN_PREFIX)
    expires_at = utcnow() + SESSION_TTL
    ctx.session.add(
        StaffSession(staff_id=staff.id, token_hash=hash_token(token), expires_at=expires_at)
    )
    return s.LoginOut(token=token, expires_at=expires_at, staff=staff_out(staff))


async def authenticate(ctx: TenantContext, token: str) -> Principal:
    """Resolve a bearer token within the tenant of the URL; another tenant's token is unknown
    here, because the lookup runs in this tenant's scope."""
    digest = hash_token(token)
    if token.startswith(STAFF_TOKEN_PREFIX + "_"):
        row = (
            await ctx.session.execute(
                select(StaffSession, StaffUser)
                .join(StaffUser, StaffUser.id == StaffSession.staff_id)
                .where(StaffSession.token_hash == digest)
            )
        ).first()
        if row is not None:
            sess, staff = row
            if sess.revoked_at is None and sess.expires_at > utcnow() and staff.active:
                return Principal(
                    kind="staff",
                    id=staff.id,
                    role=staff.role,
                    tenant_id=ctx.tenant_id,
                    name=staff.display_name or staff.username,
                    locale=staff.locale,
                    session_id=sess.id,
                )
    elif token.startswith(API_KEY_PREFIX + "_"):
        key = await ctx.session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
        if key is not None and key.revoked_at is None:
            return Principal(kind="api_key", id=key.id, role=key.role, tenant_id=ctx.tenant_id)
    raise Unauthorized("invalid or expired token", code="auth.invalid_token")


async def current_staff(ctx: TenantContext) -> StaffUser:
    principal = require_staff(ctx, "clerk")
    if principal.kind != "staff":
        raise Forbidden("this needs a staff session", code="auth.staff_required")
    staff = await ctx.session.get(StaffUser, (ctx.tenant_id, principal.id))
    assert staff is not None  # authenticate() just found it in this transaction
    return staff


async def logout(ctx: TenantContext, token: str) -> None:
    sess = await ctx.session.scalar(
        select(StaffSession).where(StaffSession.token_hash == hash_token(token))
    )
    if sess is not None:
        sess.revoked_at = utcnow()


async def change_password(ctx: TenantContext, data: s.PasswordChange) -> s.StaffOut:
    """A new password ends every other session of this person (browser and API alike); the
    one that changed it stays signed in."""
    staff = await current_staff(ctx)
    if not verify_password(staff.password_hash, data.current_password):
        raise Unauthorized("current password is wrong", code="auth.invalid_credentials")
    staff.password_hash = hash_password(data.new_password)
    staff.must_change_password = False
    assert ctx.principal is not None  # current_staff() checked it
    await ctx.session.execute(
        update(StaffSession)
        .where(
            StaffSession.staff_id == staff.id,
            StaffSession.id != ctx.principal.session_id,
            StaffSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return staff_out(staff)


async def set_locale(ctx: TenantContext, locale: str) -> s.StaffOut:
    """The signed-in person's console language ("" follows the browser)."""
    staff = await current_staff(ctx)
    staff.locale = locale
    return staff_out(staff)


async def list_staff(ctx: TenantContext) -> list[s.StaffOut]:
    require_staff(ctx, "manager")
    rows = await ctx.session.scalars(select(StaffUser).order_by(StaffUser.id))
    return [staff_out(row) for row in rows]


async def create_staff(ctx: TenantContext, data: s.StaffCreate) -> s.StaffCreated:
    require_staff(ctx, "owner")
    exists = await ctx.session.scalar(
        select(StaffUser.id).where(StaffUser.username == data.username)
    )
    if exists is not None:
        raise Conflict(f"username {data.username!r} is taken", code="staff.username_taken")
    password = _initial_password()
    staff = StaffUser(
        username=data.username,
        display_name=data.display_name,
        role=data.role,
        password_hash=hash_password(password),
    )
    ctx.session.add(staff)
    await ctx.session.flush()
    return s.StaffCreated(staff=staff_out(staff), initial_password=password)


async def deactivate_staff(ctx: TenantContext, staff_id: str) -> s.StaffOut:
    principal = require_staff(ctx, "owner")
    staff = await ctx.session.get(StaffUser, (ctx.tenant_id, staff_id))
    if staff is None:
        raise NotFound("no such staff member", code="staff.not_found")
    if staff.id == principal.id:
        raise AppError("you cannot deactivate yourself", code="staff.self", status=409)
    staff.active = False
    return staff_out(staff)


def api_key_out(key: ApiKey) -> s.ApiKeyOut:
    return s.ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        role=key.role,
        created_at=key.created_at,
        revoked=key.revoked_at is not None,
    )


async def create_api_key(ctx: TenantContext, data: s.ApiKeyCreate) -> s.ApiKeyCreated:
    staff = await current_staff(ctx)
    require_role(staff.role, "owner")
    secret = new_token(API_KEY_PREFIX)
    key = ApiKey(
        name=data.name,
        prefix=secret[:10],
        key_hash=hash_token(secret),
        role=data.role,
        created_by=staff.id,
        created_at=utcnow(),
    )
    ctx.session.add(key)
    await ctx.session.flush()
    return s.ApiKeyCreated(api_key=api_key_out(key), key=secret)


async def list_api_keys(ctx: TenantContext) -> list[s.ApiKeyOut]:
    require_staff(ctx, "owner")
    return [api_key_out(k) for k in await ctx.session.scalars(select(ApiKey).order_by(ApiKey.id))]


async def revoke_api_key(ctx: TenantContext, key_id: str) -> s.ApiKeyOut:
    require_staff(ctx, "owner")
    key = await ctx.session.get(ApiKey, (ctx.tenant_id, key_id))
    if key is None:
        raise NotFound("no such API key", code="api_key.not_found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return api_key_out(key)
