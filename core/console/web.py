"""The console surface's HTTP plumbing: the guard (cookie session, CSRF), ``page()`` to
render a template inside the shared layout, redirects, and error pages.

Every console route runs behind ``console_guard``: a signed-in staff member of the tenant in
the path (else a redirect to the sign-in page), and on every state-changing request a valid
CSRF token (else 403 and nothing runs). Routes marked ``opt={"public": True}`` (sign-in, the
theme stylesheet) need no session but still need the token to POST.
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from core.api import runtime_of, tenant_of
from core.auth import ROLE_RANK
from core.console.i18n import LOCALE_NAMES, LOCALES, negotiate
from core.console.render import ConsoleTemplates
from core.console.schemas import ROLE_LABELS, SECTION_LABELS, SECTIONS, NavItem
from core.console.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_COOKIE,
    console_base,
    csrf_matches,
    csrf_token,
    is_htmx,
    new_nonce,
    nonce_cookie,
)
from core.context import Principal, TenantInfo
from core.errors import AppError, Forbidden, Unauthorized

AnyConnection = ASGIConnection[Any, Any, Any, Any]
AnyRequest = Request[Any, Any, Any]
log = logging.getLogger("storeplug.console")

_PRINCIPAL = "storeplug_principal"
_CSRF = "storeplug_csrf"
_NEW_NONCE = "storeplug_csrf_nonce"


class SignInRequired(Unauthorized):
    """No valid session: the console answers with the sign-in page, not an error."""

    code = "auth.required"


def _method(connection: AnyConnection) -> str:
    return str(connection.scope.get("method", "GET"))


def templates_of(connection: AnyConnection) -> ConsoleTemplates:
    templates: ConsoleTemplates = connection.app.state.console
    return templates


def principal_of(connection: AnyConnection) -> Principal | None:
    principal = connection.scope.get(_PRINCIPAL)
    return principal if isinstance(principal, Principal) else None


async def console_guard(connection: AnyConnection, handler: BaseRouteHandler) -> None:
    tenant = await tenant_of(connection)
    runtime = runtime_of(connection)
    token = connection.cookies.get(SESSION_COOKIE) or ""
    principal: Principal | None = None
    if token:
        try:
            async with runtime.tenant_context(tenant) as ctx:
                principal = await runtime.authenticate(ctx, token)
        except Unauthorized:
            principal = None
        if principal is not None and principal.kind != "staff":
            principal = None  # an API key is for machines, never a browser cookie
    if principal is not None:
        connection.scope[_PRINCIPAL] = principal  # type: ignore[literal-required]
        binding = "session:" + token
    else:
        if not handler.opt.get("public"):
            raise SignInRequired("sign in first")
        nonce = connection.cookies.get(CSRF_COOKIE, "")
        if not nonce:
            nonce = new_nonce()
            connection.scope[_NEW_NONCE] = nonce  # type: ignore[literal-required]
        binding = "anon:" + nonce
    secret = runtime.settings.secret_key
    connection.scope[_CSRF] = csrf_token(secret, tenant.id, binding)  # type: ignore[literal-required]
    if _method(connection) not in SAFE_METHODS:
        sent = connection.headers.get(CSRF_HEADER)
        if not sent and isinstance(connection, Request):
            value = (await connection.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
        if not csrf_matches(secret, tenant.id, binding, sent):
            raise Forbidden("the form has expired; reload the page", code="csrf.invalid")


def locale_of(connection: AnyConnection) -> str:
    principal = principal_of(connection)
    return negotiate(
        principal.locale if principal else "", connection.headers.get("accept-language")
    )


def nav_for(tenant: TenantInfo, principal: Principal, connection: AnyConnection) -> list[Any]:
    """The navigation this person sees: every enabled plugin's and the core's entries at or
    below their role, by section."""
    hooks = runtime_of(connection).plugins.hooks_for(tenant.enabled_plugins)
    rank = ROLE_RANK.get(principal.role, 0)
    items: list[NavItem] = [
        item
        for batch in hooks.console_nav(tenant=tenant)
        for item in batch or []
        if ROLE_RANK[item.role] <= rank
    ]
    base = console_base(tenant.slug)
    path = connection.url.path.rstrip("/")

    def target(item: NavItem) -> str:
        return f"{base}/{item.path}".rstrip("/")

    current = max(
        (
            item.path
            for item in items
            if path == target(item) or path.startswith(target(item) + "/")
        ),
        key=len,
        default=None,
    )
    sections = []
    for section in SECTIONS:
        entries = sorted(
            (i for i in items if i.section == section), key=lambda i: (i.order, i.label)
        )
        if entries:
            sections.append(
                {
                    "name": section,
                    "label": SECTION_LABELS[section],
                    "items": [
                        {"label": i.label, "url": f"{base}/{i.path}", "current": i.path == current}
                        for i in entries
                    ],
                }
            )
    return sections


def page_context(connection: AnyConnection) -> dict[str, Any]:
    tenant: TenantInfo = connection.scope["storeplug_tenant"]  # type: ignore[typeddict-item]
    principal = principal_of(connection)
    return {
        "tenant": tenant,
        "store_name": tenant.branding.display_name or tenant.name,
        "branding": tenant.branding,
        "staff": principal,
        "role_label": ROLE_LABELS.get(principal.role, principal.role) if principal else "",
        "nav": nav_for(tenant, principal, connection) if principal else [],
        "csrf": connection.scope.get(_CSRF, ""),
        "csrf_field": CSRF_FIELD,
        "base": console_base(tenant.slug),
        "path": connection.url.path,
        "locale": locale_of(connection),
        "locales": [(code, LOCALE_NAMES[code]) for code in LOCALES],
        "htmx": is_htmx(connection.headers),
    }


def page(
    connection: AnyConnection, template: str, *, status: int = 200, **context: Any
) -> Response[str]:
    """Render ``template`` (which extends ``console/base.html``, or is a fragment for htmx)
    with the layout's context plus ``context``."""
    templates = templates_of(connection)
    full = {**page_context(connection), **context}
    html = templates.render(full["locale"], template, full)
    response = Response(html, status_code=status, media_type="text/html; charset=utf-8")
    nonce = connection.scope.get(_NEW_NONCE)
    if isinstance(nonce, str):
        tenant: TenantInfo = full["tenant"]
        response.set_cookie(nonce_cookie(runtime_of(connection).settings, tenant.slug, nonce))
    return response


def redirect(connection: AnyConnection, to: str) -> Response[Any]:
    """303 to ``to`` (relative to the tenant's console); for htmx, ``HX-Redirect``."""
    tenant: TenantInfo = connection.scope["storeplug_tenant"]  # type: ignore[typeddict-item]
    url = f"{console_base(tenant.slug)}/{to.lstrip('/')}"
    if is_htmx(connection.headers):
        return Response(b"", status_code=204, headers={"HX-Redirect": url})
    return Redirect(url, status_code=303)


_SAFE_NEXT = re.compile(r"^/console/[A-Za-z0-9_-]+(/[\w\-./]*)?$")


def safe_next(slug: str, value: str | None) -> str:
    """Where to go after signing in: a page of this tenant's console, never elsewhere."""
    base = console_base(slug)
    if value and _SAFE_NEXT.match(value) and (value == base or value.startswith(base + "/")):
        return value
    return base + "/"


# ---- error pages ----------------------------------------------------------------------


def _sign_in(connection: AnyConnection) -> Response[Any]:
    tenant = connection.scope.get("storeplug_tenant")
    slug = tenant.slug if isinstance(tenant, TenantInfo) else connection.path_params["tenant_slug"]
    target = connection.url.path if _method(connection) == "GET" else ""
    url = f"{console_base(slug)}/login" + (f"?next={quote(target)}" if target else "")
    if is_htmx(connection.headers):
        return Response(b"", status_code=401, headers={"HX-Redirect": url})
    return Redirect(url, status_code=303)


def _bare(status: int, code: str, headers: dict[str, str] | None = None) -> Response[Any]:
    """The message with no layout around it: for an unknown tenant, and when the error page
    itself cannot be rendered (the status stays what it was, never a 500 instead)."""
    body = f"<!doctype html><title>{status}</title><p>{status} {html.escape(code)}</p>"
    return Response(
        body, status_code=status, media_type="text/html; charset=utf-8", headers=headers
    )


def _error_page(
    connection: AnyConnection, status: int, code: str, detail: str, headers: dict[str, str]
) -> Response[Any]:
    if "storeplug_tenant" not in connection.scope:
        return _bare(status, code, headers)  # the tenant itself is unknown
    try:
        response = page(
            connection,
            "console/error.html",
            status=status,
            code=code,
            detail=detail,
            error_status=status,
        )
    except Exception:
        log.exception("the %s error page could not be rendered", status)
        return _bare(status, code, headers)
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _app_error(request: AnyRequest, exc: AppError) -> Response[Any]:
    if isinstance(exc, SignInRequired) or exc.status == 401:
        return _sign_in(request)
    return _error_page(request, exc.status, exc.code, exc.detail, exc.headers)


def _http_error(request: AnyRequest, exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    code = {400: "request.invalid", 404: "not_found", 405: "method_not_allowed"}.get(
        status, f"http.{status}"
    )
    return _error_page(request, status, code, str(exc.detail), dict(exc.headers or {}))


def _internal_error(request: AnyRequest, exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error_page(request, 500, "internal", "", {})


CONSOLE_EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    AppError: _app_error,
    HTTPException: _http_error,
    Exception: _internal_error,
}


# ---- the theme: the tenant's colours as a stylesheet (CSP allows no inline style) --------

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


def _color(value: str, default: str) -> str:
    return value if _COLOR.match(value) else default


@get("/theme.css", opt={"public": True}, include_in_schema=False)
async def theme(request: AnyRequest) -> Response[str]:
    tenant = await tenant_of(request)
    primary = _color(tenant.branding.primary_color, "#07C160")
    secondary = _color(tenant.branding.secondary_color, "#FFFFFF")
    css = f":root {{ --brand: {primary}; --brand-contrast: {secondary}; }}\n"
    return Response(
        css,
        media_type="text/css; charset=utf-8",
        headers={"cache-control": "private, max-age=300"},
    )
