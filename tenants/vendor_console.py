"""The vendor console (``/vendor/console``): the provider's operators sign in, find tenants,
onboard a merchant (its owner's one-time password shown once), suspend and resume it, change
its plan, and keep the plans with their plugins.

The same framework as a store's console (``core.console.web``), in a realm of its own: the
session cookie is scoped to ``/vendor/console`` and names a ``vendor_sessions`` row, CSRF
tokens are bound to it, and a staff session means nothing here (nor an operator's in a
store's console). Thin controllers over ``tenants.service`` and ``tenants.vendor_users``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from core.api import AnyRequest, Cursor, Limit, runtime_of
from core.console.forms import Form, read_form
from core.console.i18n import N_
from core.console.schemas import NavItem
from core.console.security import SESSION_COOKIE
from core.console.web import (
    AnyConnection,
    Site,
    end_session,
    guard_for,
    page,
    principal_of,
    redirect,
    safe_next,
    theme_route,
)
from core.context import Branding, Principal
from core.errors import AppError
from core.paging import Page
from core.runtime import Runtime
from tenants import schemas as s
from tenants import service, vendor_users
from tenants.api import Search
from tenants.console import sign_in_with

BASE = "/vendor/console"
PAGE_SIZE = 50
NAV = [
    NavItem(label=N_("Merchants"), path="tenants", section="provider", order=0),
    NavItem(label=N_("Plans"), path="plans", section="provider", order=10),
]


class VendorConsole:
    """The provider's console, for the operators in ``vendor_users``."""

    async def site(self, connection: AnyConnection) -> Site:
        return Site(
            base=BASE, csrf_scope="vendor", name="storeplug", branding=Branding(), realm=self
        )

    async def authenticate(
        self, connection: AnyConnection, site: Site, token: str
    ) -> Principal | None:
        return await vendor_users.authenticate(runtime_of(connection), token)

    def nav(self, connection: AnyConnection, site: Site, principal: Principal) -> list[NavItem]:
        return NAV


VENDOR_CONSOLE = VendorConsole()
vendor_console_guard = guard_for(VENDOR_CONSOLE)


def _operator(request: AnyRequest) -> Principal:
    principal = principal_of(request)
    assert principal is not None  # the guard let only a signed-in operator in
    return principal


# ---- signing in and out, and the operator's own account ---------------------------------


@get("/login", opt={"public": True}, include_in_schema=False)
async def sign_in_page(request: AnyRequest, next: FromQuery[str | None] = None) -> Any:
    if principal_of(request) is not None:
        return Redirect(safe_next(request, next), status_code=303)
    form: Form[s.LoginIn] = Form(values={"username": ""})
    return page(request, "tenants/sign_in.html", form=form, next=safe_next(request, next))


@post("/login", opt={"public": True}, include_in_schema=False)
async def sign_in(request: AnyRequest) -> Any:
    rt = runtime_of(request)

    async def login(data: s.LoginIn) -> tuple[str, datetime, bool]:
        signed_in = await vendor_users.login(rt, data, rt.login_failures)
        return signed_in.token, signed_in.expires_at, signed_in.user.must_change_password

    return await sign_in_with(request, login)


@post("/logout", include_in_schema=False)
async def sign_out(request: AnyRequest) -> Any:
    await vendor_users.logout(runtime_of(request), request.cookies.get(SESSION_COOKIE, ""))
    return end_session(request)


@get("/", include_in_schema=False)
async def home(request: AnyRequest) -> Any:
    return redirect(request, "tenants")


async def _account(request: AnyRequest, status: int = 200, **forms: Any) -> Response[str]:
    me = await vendor_users.current(runtime_of(request), _operator(request))
    forms.setdefault("password_form", Form(values={}))
    forms.setdefault("locale_form", Form(values={"locale": me.locale}))
    return page(request, "tenants/account.html", status=status, me=me, **forms)


@get("/account", include_in_schema=False)
async def account(request: AnyRequest, changed: FromQuery[bool] = False) -> Response[str]:
    password_form: Form[s.PasswordChange] = Form(values={})
    if changed:
        password_form.notice = (N_("Password changed; your other sessions were signed out."), {})
    return await _account(request, password_form=password_form)


@post("/account/locale", include_in_schema=False)
async def set_locale(request: AnyRequest) -> Any:
    form = await read_form(request, s.LocaleIn)
    if not form.ok or form.data is None:
        return await _account(request, 422, locale_form=form)
    await vendor_users.set_locale(runtime_of(request), _operator(request), form.data.locale)
    return redirect(request, "account")


@post("/account/password", include_in_schema=False)
async def change_password(request: AnyRequest) -> Any:
    form = await read_form(request, s.PasswordChange)
    form.values = {}  # passwords are never shown again
    if form.ok and form.data is not None:
        try:
            await vendor_users.change_password(runtime_of(request), _operator(request), form.data)
        except AppError as exc:
            form.fail(exc)
        else:
            return redirect(request, "account?changed=1")
    return await _account(request, 422, password_form=form)


# ---- tenants ------------------------------------------------------------------------------

# "" is the search form's "all".
StatusFilter = Literal["", "active", "suspended"]


@get("/tenants", include_in_schema=False)
async def tenants(
    request: AnyRequest,
    q: Search = None,
    status: FromQuery[StatusFilter | None] = None,
    cursor: Cursor = None,
    limit: Limit = PAGE_SIZE,
) -> Response[str]:
    query = (q or "").strip() or None
    found: Page[s.TenantOut] = await service.list_tenants(
        runtime_of(request), limit, cursor, status or None, query, newest_first=True
    )
    return page(
        request,
        "tenants/vendor/tenants.html",
        found=found,
        q=query or "",
        state=status or "",
        limit=limit,
    )


class OnboardForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The onboarding form, flat; it becomes a ``TenantCreate``."""

    slug: s.Slug
    name: s.Name
    plan: s.PlanCode
    owner_username: s.Username = "owner"
    display_name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    contact_name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    contact_phone: Annotated[str, msgspec.Meta(max_length=40)] = ""
    contact_email: Annotated[str, msgspec.Meta(max_length=200)] = ""

    def create(self) -> s.TenantCreate:
        return s.TenantCreate(
            slug=self.slug,
            name=self.name,
            plan=self.plan,
            owner_username=self.owner_username,
            branding=s.BrandingIn(display_name=self.display_name),
            contact=s.Contact(
                name=self.contact_name, phone=self.contact_phone, email=self.contact_email
            ),
        )


ONBOARD_TEXTS = {"plan.unknown": N_("There is no such plan.")}


async def _onboard_page(
    request: AnyRequest, form: Form[OnboardForm], status: int = 200
) -> Response[str]:
    plans = await service.list_plans(runtime_of(request))
    return page(request, "tenants/vendor/onboard.html", status=status, form=form, plans=plans)


@get("/tenants/new", include_in_schema=False)
async def onboard_page(request: AnyRequest) -> Response[str]:
    return await _onboard_page(request, Form(values={"owner_username": "owner"}))


@post("/tenants", include_in_schema=False)
async def onboard(request: AnyRequest) -> Response[str]:
    form = await read_form(request, OnboardForm)
    if form.ok and form.data is not None:
        try:
            created = await service.onboard(runtime_of(request), form.data.create())
        except AppError as exc:
            if exc.code == "tenant.slug_taken":
                form.errors["slug"] = (N_("Another merchant has this address."), {})
            else:
                form.fail(exc, texts=ONBOARD_TEXTS)
        else:
            # Shown in this answer only (no-store, no redirect): the password is never
            # kept anywhere but in the owner's hands.
            return page(request, "tenants/vendor/onboarded.html", status=201, created=created)
    return await _onboard_page(request, form, 422)


async def _tenant_page(
    request: AnyRequest, slug: str, form: Form[Any] | None = None, status: int = 200
) -> Response[str]:
    rt = runtime_of(request)
    tenant = await service.get_tenant(rt, slug)
    plans = await service.list_plans(rt)
    form = form or Form(values={"plan": tenant.plan})
    return page(
        request, "tenants/vendor/tenant.html", status=status, t=tenant, plans=plans, form=form
    )


@get("/tenants/{slug:str}", include_in_schema=False)
async def tenant_detail(request: AnyRequest, slug: FromPath[str]) -> Response[str]:
    return await _tenant_page(request, slug)


async def _set_status(request: AnyRequest, slug: str, status: str) -> Any:
    await service.set_status(runtime_of(request), slug, status)
    return redirect(request, f"tenants/{slug}")


@post("/tenants/{slug:str}/suspend", include_in_schema=False)
async def suspend(request: AnyRequest, slug: FromPath[str]) -> Any:
    return await _set_status(request, slug, "suspended")


@post("/tenants/{slug:str}/resume", include_in_schema=False)
async def resume(request: AnyRequest, slug: FromPath[str]) -> Any:
    return await _set_status(request, slug, "active")


class PlanChoice(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    plan: s.PlanCode


@post("/tenants/{slug:str}/plan", include_in_schema=False)
async def change_plan(request: AnyRequest, slug: FromPath[str]) -> Any:
    form = await read_form(request, PlanChoice)
    if form.ok and form.data is not None:
        try:
            await service.update_tenant(
                runtime_of(request), slug, s.TenantUpdate(plan=form.data.plan)
            )
        except AppError as exc:
            form.fail(exc, texts=ONBOARD_TEXTS)
        else:
            return redirect(request, f"tenants/{slug}")
    return await _tenant_page(request, slug, form, 422)


# ---- plans and their plugins --------------------------------------------------------------


class PlanForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: s.PlanCode
    name: s.Name


def _features(rt: Runtime) -> dict[str, dict[str, str]]:
    """What a plan may include: each plugin's plan feature (its name unless it says
    otherwise), with the plugin's title and description."""
    features: dict[str, dict[str, str]] = {}
    for _, meta in sorted(rt.plugins.metas.items()):
        features.setdefault(
            meta.feature,
            {"name": meta.feature, "title": meta.title, "description": meta.description},
        )
    return features


async def _plans_page(
    request: AnyRequest,
    form: Form[PlanForm] | None = None,
    chosen: list[str] | None = None,
    status: int = 200,
) -> Response[str]:
    rt = runtime_of(request)
    return page(
        request,
        "tenants/vendor/plans.html",
        status=status,
        plans=await service.list_plans(rt),
        features=list(_features(rt).values()),
        titles={name: feature["title"] for name, feature in _features(rt).items()},
        form=form or Form(values={}),
        chosen=chosen or [],
    )


@get("/plans", include_in_schema=False)
async def plans(request: AnyRequest, edit: FromQuery[str | None] = None) -> Response[str]:
    """The plans; ``?edit=<code>`` fills the form with one of them."""
    if edit:
        for plan in await service.list_plans(runtime_of(request)):
            if plan.code == edit:
                values = {"code": plan.code, "name": plan.name}
                return await _plans_page(request, Form(values=values), plan.plugins)
    return await _plans_page(request)


@post("/plans", include_in_schema=False)
async def save_plan(request: AnyRequest) -> Any:
    """Create a plan, or replace the one with this code (its tenants see it at once)."""
    rt = runtime_of(request)
    form = await read_form(request, PlanForm)
    posted = await request.form()
    chosen = [str(name) for name in posted.getall("plugins", [])]
    unknown = sorted(set(chosen) - set(_features(rt)))
    if unknown:
        form.errors["plugins"] = (N_("Unknown feature: %(name)s"), {"name": ", ".join(unknown)})
    if form.ok and form.data is not None:
        data = s.PlanIn(code=form.data.code, name=form.data.name, plugins=chosen)
        await service.put_plan(rt, data)
        return redirect(request, "plans")
    return await _plans_page(request, form, chosen, 422)


CONSOLE_ROUTES = [
    theme_route(),
    sign_in_page,
    sign_in,
    sign_out,
    home,
    account,
    set_locale,
    change_password,
    tenants,
    onboard_page,
    onboard,
    tenant_detail,
    suspend,
    resume,
    change_plan,
    plans,
    save_plan,
]
