"""The consoles' HTTP plumbing: the guard (cookie session, CSRF), ``page()`` to render a
template inside the shared layout, signing in and out, redirects, and error pages.

There are two consoles on one framework: a store's (``/console/{tenant}``, its staff) and the
vendor's (``/vendor/console``, the provider's operators). Each is a ``Realm``: it says which
``Site`` a request is in (the URL base that is also the cookies' path, what CSRF tokens are
bound to, the name and colours of the layout) and who a session cookie belongs to. The rest
is the same for both.

Every console route runs behind its realm's guard: a signed-in person of that site (else a
redirect to the sign-in page) and on every state-changing request a valid CSRF token (else
403 and nothing runs). Routes marked ``opt={"public": True}`` (sign-in, the theme
stylesheet) need no session but still need the token to POST.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
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
    expired_cookie,
    is_htmx,
    new_nonce,
    nonce_cookie,
    session_cookie,
)
from core.context import Branding, Principal, TenantInfo
from core.errors import AppError, Forbidden, Unauthorized

AnyConnection = ASGIConnection[Any, Any, Any, Any]
AnyRequest = Request[Any, Any, Any]
log = logging.getLogger("storeplug.console")

_PRINCIPAL = "storeplug_principal"
_SITE = "storeplug_console_site"
_CSRF = "storeplug_csrf"
_NEW_NONCE = "storeplug_csrf_nonce"


class SignInRequired(Unauthorized):
    """No valid session: the console answers with the sign-in page, not an error."""

    code = "auth.required"


@dataclass(frozen=True)
class Site:
    """The console a request is in: one store's, or the vendor's."""

    base: str  # the URL prefix, also the path of the console's cookies
    csrf_scope: str  # bound into every CSRF token with the session: the tenant id, "vendor"
    name: str  # shown in the title and the top bar
    branding: Branding
    realm: Realm
    tenant: TenantInfo | None = None  # a store's console


class Realm(Protocol):
    """A kind of console: where a request is, who its session cookie names, what menu."""

    async def site(self, connection: AnyConnection) -> Site:
        """The site of the request's path (raise ``AppError`` when there is none)."""
        ...

    async def authenticate(
        self, connection: AnyConnection, site: Site, token: str
    ) -> Principal | None:
        """The person a session token belongs to on this site, None for anything else."""
        ...

    def nav(self, connection: AnyConnection, site: Site, principal: Principal) -> list[NavItem]:
        """The menu entries this person may see."""
        ...


def _method(connection: AnyConnection) -> str:
    return str(connection.scope.get("method", "GET"))


def templates_of(connection: AnyConnection) -> ConsoleTemplates:
    templates: ConsoleTemplates = connection.app.state.console
    return templates


def principal_of(connection: AnyConnection) -> Principal | None:
    principal = connection.scope.get(_PRINCIPAL)
    return principal if isinstance(principal, Principal) else None


def site_of(connection: AnyConnection) -> Site | None:
    site = connection.scope.get(_SITE)
    return site if isinstance(site, Site) else None


def _site(connection: AnyConnection) -> Site:
    site = site_of(connection)
    assert site is not None, "a console page outside a console guard"
    return site


def page_base(connection: AnyConnection) -> str:
    """The console's base URL (``/console/<slug>``, ``/vendor/console``)."""
    return _site(connection).base


def guard_for(realm: Realm) -> Callable[[AnyConnection, BaseRouteHandler], Awaitable[None]]:
    """The guard of every route of ``realm``'s console."""

    async def guard(connection: AnyConnection, handler: BaseRouteHandler) -> None:
        site = await realm.site(connection)
        connection.scope[_SITE] = site  # type: ignore[literal-required]
        token = connection.cookies.get(SESSION_COOKIE) or ""
        principal = await realm.authenticate(connection, site, token) if token else None
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
        secret = runtime_of(connection).settings.secret_key
        connection.scope[_CSRF] = csrf_token(secret, site.csrf_scope, binding)  # type: ignore[literal-required]
        if _method(connection) not in SAFE_METHODS:
            sent = connection.headers.get(CSRF_HEADER)
            if not sent and isinstance(connection, Request):
                value = (await connection.form()).get(CSRF_FIELD)
                sent = value if isinstance(value, str) else None
            if not csrf_matches(secret, site.csrf_scope, binding, sent):
                raise Forbidden("the form has expired; reload the page", code="csrf.invalid")

    return guard


class StoreConsole:
    """The merchant console of the store in the path, for its staff."""

    async def site(self, connection: AnyConnection) -> Site:
        tenant = await tenant_of(connection)
        return Site(
            base=console_base(tenant.slug),
            csrf_scope=tenant.id,
            name=tenant.branding.display_name or tenant.name,
            branding=tenant.branding,
            realm=self,
            tenant=tenant,
        )

    async def authenticate(
        self, connection: AnyConnection, site: Site, token: str
    ) -> Principal | None:
        runtime = runtime_of(connection)
        assert site.tenant is not None
        try:
            async with runtime.tenant_context(site.tenant) as ctx:
                principal = await runtime.authenticate(ctx, token)
        except Unauthorized:
            return None
        # An API key is for machines, never a browser cookie.
        return principal if principal.kind == "staff" else None

    def nav(self, connection: AnyConnection, site: Site, principal: Principal) -> list[NavItem]:
        """Every enabled plugin's and the core's entries at or below this person's role."""
        assert site.tenant is not None
        hooks = runtime_of(connection).plugins.hooks_for(site.tenant.enabled_plugins)
        rank = ROLE_RANK.get(principal.role, 0)
        return [
            item
            for batch in hooks.console_nav(tenant=site.tenant)
            for item in batch or []
            if ROLE_RANK[item.role] <= rank
        ]


STORE_CONSOLE = StoreConsole()
console_guard = guard_for(STORE_CONSOLE)


def locale_of(connection: AnyConnection) -> str:
    principal = principal_of(connection)
    return negotiate(
        principal.locale if principal else "", connection.headers.get("accept-language")
    )


def nav_for(site: Site, principal: Principal, connection: AnyConnection) -> list[Any]:
    """The navigation this person sees, by section, with the current page marked."""
    items = site.realm.nav(connection, site, principal)
    path = connection.url.path.rstrip("/")

    def target(item: NavItem) -> str:
        return f"{site.base}/{item.path}".rstrip("/")

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
                        {
                            "label": i.label,
                            "url": f"{site.base}/{i.path}",
                            "current": i.path == current,
                        }
                        for i in entries
                    ],
                }
            )
    return sections


def page_context(connection: AnyConnection) -> dict[str, Any]:
    site = _site(connection)
    principal = principal_of(connection)
    return {
        "tenant": site.tenant,
        "store_name": site.name,
        "branding": site.branding,
        "staff": principal,
        "role_label": ROLE_LABELS.get(principal.role, principal.role) if principal else "",
        "nav": nav_for(site, principal, connection) if principal else [],
        "csrf": connection.scope.get(_CSRF, ""),
        "csrf_field": CSRF_FIELD,
        "base": site.base,
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
        response.set_cookie(nonce_cookie(runtime_of(connection).settings, full["base"], nonce))
    return response


def redirect(connection: AnyConnection, to: str) -> Response[Any]:
    """303 to ``to`` (relative to the console's base); for htmx, ``HX-Redirect``."""
    url = f"{_site(connection).base}/{to.lstrip('/')}"
    if is_htmx(connection.headers):
        return Response(b"", status_code=204, headers={"HX-Redirect": url})
    return Redirect(url, status_code=303)


_SAFE_NEXT = re.compile(r"^/[\w\-./]*$")


def safe_next(connection: AnyConnection, value: str | None) -> str:
    """Where to go after signing in: a page of this console, never elsewhere."""
    base = _site(connection).base
    if (
        value
        and _SAFE_NEXT.match(value)
        and ".." not in value
        and (value == base or value.startswith(base + "/"))
    ):
        return value
    return base + "/"


def start_session(
    connection: AnyConnection, token: str, expires_at: datetime, target: str
) -> Response[Any]:
    """Signed in: the session cookie, the sign-in form's nonce dropped, and on to ``target``."""
    settings = runtime_of(connection).settings
    base = _site(connection).base
    response: Response[Any] = Redirect(target, status_code=303)
    response.set_cookie(session_cookie(settings, base, token, expires_at))
    response.set_cookie(expired_cookie(settings, base, CSRF_COOKIE))
    return response


def end_session(connection: AnyConnection) -> Response[Any]:
    """Signed out (the caller revoked the session): the cookie dropped, to the sign-in page."""
    response = redirect(connection, "login")
    response.set_cookie(
        expired_cookie(runtime_of(connection).settings, _site(connection).base, SESSION_COOKIE)
    )
    return response


# ---- error pages ----------------------------------------------------------------------


def _bare(status: int, code: str, headers: dict[str, str] | None = None) -> Response[Any]:
    """The message with no layout around it: for an unknown tenant, and when the error page
    itself cannot be rendered (the status stays what it was, never a 500 instead)."""
    body = f"<!doctype html><title>{status}</title><p>{status} {html.escape(code)}</p>"
    return Response(
        body, status_code=status, media_type="text/html; charset=utf-8", headers=headers
    )


def _sign_in(connection: AnyConnection) -> Response[Any]:
    site = site_of(connection)
    if site is None:
        return _bare(401, "auth.required")
    target = connection.url.path if _method(connection) == "GET" else ""
    url = f"{site.base}/login" + (f"?next={quote(target)}" if target else "")
    if is_htmx(connection.headers):
        return Response(b"", status_code=401, headers={"HX-Redirect": url})
    return Redirect(url, status_code=303)


def _error_page(
    connection: AnyConnection, status: int, code: str, detail: str, headers: dict[str, str]
) -> Response[Any]:
    if site_of(connection) is None:
        return _bare(status, code, headers)  # no console to lay out (an unknown tenant)
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


# ---- the theme: the site's colours as a stylesheet (CSP allows no inline style) ----------

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


def _color(value: str, default: str) -> str:
    return value if _COLOR.match(value) else default


async def _theme(request: AnyRequest) -> Response[str]:
    branding = _site(request).branding
    primary = _color(branding.primary_color, "#07C160")
    secondary = _color(branding.secondary_color, "#FFFFFF")
    css = f":root {{ --brand: {primary}; --brand-contrast: {secondary}; }}\n"
    return Response(
        css,
        media_type="text/css; charset=utf-8",
        headers={"cache-control": "private, max-age=300"},
    )


def theme_route() -> HTTPRouteHandler:
    """``GET <base>/theme.css`` for a console's routes (each console mounts its own)."""
    return get("/theme.css", opt={"public": True}, include_in_schema=False)(_theme)


theme = theme_route()
