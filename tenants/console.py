"""The vendor side's pages in the merchant console: signing in and out, the person's own
account (language, password) and the features page (plugins on/off and their settings).

Thin controllers over ``tenants.service`` and ``tenants.plugin_settings``, the functions the
JSON API calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import msgspec
from litestar import Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect

from core.api import AnyRequest, Ctx, Tenant, runtime_of
from core.auth import require_staff
from core.console.forms import Form, form_fields, parse_form, read_form
from core.console.i18n import N_
from core.console.security import SESSION_COOKIE
from core.console.web import (
    end_session,
    page,
    page_base,
    principal_of,
    redirect,
    safe_next,
    start_session,
)
from core.context import TenantContext
from core.errors import AppError
from core.plugins import PluginMeta
from core.runtime import Runtime
from tenants import plugin_settings, service
from tenants import schemas as s
from tenants.api import PluginName
from tenants.schemas import PluginOut

# ---- signing in and out --------------------------------------------------------------------


@get("/login", opt={"public": True}, include_in_schema=False)
async def sign_in_page(
    request: AnyRequest, tenant: Tenant, next: FromQuery[str | None] = None
) -> Any:
    if principal_of(request) is not None:
        return Redirect(safe_next(request, next), status_code=303)
    form: Form[s.LoginIn] = Form(values={"username": ""})
    return page(request, "tenants/sign_in.html", form=form, next=safe_next(request, next))


# What a console's sign-in calls: (session token, expiry, must the password change first).
Login = Callable[[s.LoginIn], Awaitable[tuple[str, datetime, bool]]]


async def sign_in_with(request: AnyRequest, login: Login) -> Any:
    """The sign-in form's POST on either console: the session cookie and on to the page
    asked for (the account page first while the password is an initial one), or the form
    again with the reason (the lockout included)."""
    form = await read_form(request, s.LoginIn)
    posted_next = (await request.form()).get("next")
    target = safe_next(request, posted_next if isinstance(posted_next, str) else None)
    form.values.pop("password", None)  # never sent back into the page
    status = 422
    if form.ok and form.data is not None:
        try:
            token, expires_at, must_change = await login(form.data)
        except AppError as exc:
            form.fail(exc)
            status = exc.status
        else:
            if must_change:
                target = safe_next(request, f"{page_base(request)}/account")
            return start_session(request, token, expires_at, target)
    return page(request, "tenants/sign_in.html", status=status, form=form, next=target)


@post("/login", opt={"public": True}, include_in_schema=False)
async def sign_in(request: AnyRequest, ctx: Ctx) -> Any:
    failures = runtime_of(request).login_failures

    async def login(data: s.LoginIn) -> tuple[str, datetime, bool]:
        async with ctx.savepoint():
            signed_in = await service.login(ctx, data, failures)
        return signed_in.token, signed_in.expires_at, signed_in.staff.must_change_password

    return await sign_in_with(request, login)


@post("/logout", include_in_schema=False)
async def sign_out(request: AnyRequest, ctx: Ctx) -> Any:
    await service.logout(ctx, request.cookies.get(SESSION_COOKIE, ""))
    return end_session(request)


# ---- the person's own account -----------------------------------------------------------


def _account(
    request: AnyRequest, staff: s.StaffOut, status: int = 200, **forms: Any
) -> Response[str]:
    forms.setdefault("password_form", Form(values={}))
    forms.setdefault("locale_form", Form(values={"locale": staff.locale}))
    return page(request, "tenants/account.html", status=status, me=staff, **forms)


@get("/account", include_in_schema=False)
async def account(request: AnyRequest, ctx: Ctx, changed: FromQuery[bool] = False) -> Response[str]:
    password_form: Form[s.PasswordChange] = Form(values={})
    if changed:
        password_form.notice = (N_("Password changed; your other sessions were signed out."), {})
    staff = service.staff_out(await service.current_staff(ctx))
    return _account(request, staff, password_form=password_form)


@post("/account/locale", include_in_schema=False)
async def set_locale(request: AnyRequest, ctx: Ctx) -> Any:
    form = await read_form(request, s.LocaleIn)
    if not form.ok or form.data is None:
        staff = service.staff_out(await service.current_staff(ctx))
        return _account(request, staff, 422, locale_form=form)
    await service.set_locale(ctx, form.data.locale)
    return redirect(request, "account")


@post("/account/password", include_in_schema=False)
async def change_password(request: AnyRequest, ctx: Ctx) -> Any:
    form = await read_form(request, s.PasswordChange)
    form.values = {}  # passwords are never shown again
    if form.ok and form.data is not None:
        try:
            async with ctx.savepoint():
                await service.change_password(ctx, form.data)
        except AppError as exc:
            form.fail(exc)
        else:
            return redirect(request, "account?changed=1")
    staff = service.staff_out(await service.current_staff(ctx))
    return _account(request, staff, 422, password_form=form)


# ---- features: plugins on and off, and their settings --------------------------------------


def _card(
    rt: Runtime, ctx: TenantContext, plugin: PluginOut, form: Form[Any] | None = None
) -> dict[str, Any]:
    meta: PluginMeta = rt.plugins.meta(plugin.name)
    values = dict(plugin.settings)
    if form is not None:
        values.update({k: v for k, v in form.values.items()})
    return {
        "plugin": plugin,
        "fields": form_fields(meta.settings, values),
        "form": form or Form(values={}),
        "plan": ctx.tenant.plan,
    }


async def _plugin(rt: Runtime, ctx: TenantContext, name: str) -> PluginOut:
    rt.plugins.meta(name)  # 404 plugin.unknown for a name that is not installed
    return next(p for p in await plugin_settings.list_plugins(rt, ctx) if p.name == name)


@get("/features", include_in_schema=False)
async def features(request: AnyRequest, ctx: Ctx) -> Response[str]:
    require_staff(ctx, "manager")
    rt = runtime_of(request)
    cards = [_card(rt, ctx, plugin) for plugin in await plugin_settings.list_plugins(rt, ctx)]
    return page(request, "tenants/features.html", cards=cards)


async def _after_change(
    request: AnyRequest, ctx: TenantContext, name: str, form: Form[Any] | None, status: int
) -> Any:
    """The plugin's card again (htmx swaps it in), or the whole page for a plain form."""
    rt = runtime_of(request)
    if request.headers.get("hx-request"):
        card = _card(rt, ctx, await _plugin(rt, ctx, name), form)
        return page(request, "tenants/_plugin.html", status=status, **card)
    if status >= 400:
        cards = [
            _card(rt, ctx, p, form if p.name == name else None)
            for p in await plugin_settings.list_plugins(rt, ctx)
        ]
        return page(request, "tenants/features.html", status=status, cards=cards)
    return redirect(request, f"features#plugin-{name}")


async def _toggle(request: AnyRequest, ctx: TenantContext, name: str, on: bool) -> Any:
    rt = runtime_of(request)
    rt.plugins.meta(name)
    form: Form[Any] = Form(values={})
    status = 200
    try:
        async with ctx.savepoint():
            if on:
                await plugin_settings.enable(rt, ctx, name, None)
            else:
                await plugin_settings.disable(rt, ctx, name)
    except AppError as exc:
        form.fail(exc)
        status = exc.status
    response = await _after_change(request, ctx, name, form, status)
    if status == 200 and request.headers.get("hx-request"):
        # The menu changes with the plugin (its console_nav entries): reload the page.
        response.headers["HX-Refresh"] = "true"
    return response


@post("/features/{name:str}/enable", include_in_schema=False)
async def enable_plugin(request: AnyRequest, ctx: Ctx, name: PluginName) -> Any:
    return await _toggle(request, ctx, name, True)


@post("/features/{name:str}/disable", include_in_schema=False)
async def disable_plugin(request: AnyRequest, ctx: Ctx, name: PluginName) -> Any:
    return await _toggle(request, ctx, name, False)


@post("/features/{name:str}/settings", include_in_schema=False)
async def save_settings(request: AnyRequest, ctx: Ctx, name: PluginName) -> Any:
    rt = runtime_of(request)
    meta = rt.plugins.meta(name)
    posted = await request.form()
    form = parse_form({key: posted.get(key) for key in posted}, meta.settings)
    status = 422
    if form.ok and form.data is not None:
        try:
            async with ctx.savepoint():
                await plugin_settings.update_settings(rt, ctx, name, msgspec.to_builtins(form.data))
        except AppError as exc:
            form.fail(exc, prefix="settings.")
            status = exc.status
        else:
            status = 200
            form = Form(values={}, notice=(N_("Saved."), {}))
    return await _after_change(request, ctx, name, form, status)


CONSOLE_ROUTES = [
    sign_in_page,
    sign_in,
    sign_out,
    account,
    set_locale,
    change_password,
    features,
    enable_plugin,
    disable_plugin,
    save_settings,
]
