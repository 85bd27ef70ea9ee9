"""Browser sessions, CSRF tokens and the security headers of every console response.

- A store's session is the same ``staff_sessions`` row the JSON API's bearer token names
  (the vendor console's is a ``vendor_sessions`` row); in a browser its token travels in an
  HttpOnly, SameSite=Lax cookie scoped to the console's path (``/console/{tenant}``,
  ``/vendor/console``), Secure unless the deployment's public URL is plain http. Signing out
  or changing the password revokes the row.
- CSRF: every state-changing request carries a token, in the ``_csrf`` form field or the
  ``X-CSRF-Token`` header (htmx sends it from ``hx-headers`` on ``<body>``). The token is an
  HMAC of the session token (signed in) or of a random ``sp_csrf`` cookie (the sign-in form)
  under the deployment's secret, with the console's scope (the tenant id, or "vendor"), so it
  is bound to the browser and the console and cannot be made elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from litestar.datastructures import Cookie
from litestar.datastructures.headers import MutableScopeHeaders
from litestar.types import Message, Scope

from core.settings import Settings

SESSION_COOKIE = "sp_session"
CSRF_COOKIE = "sp_csrf"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# No inline script or style anywhere (the tenant's colours come from a stylesheet route);
# images by https URL (product photos, logos); no framing.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    # Every console page shows a store's people, orders or money: never kept, so the back
    # button after signing out asks the server again (and gets the sign-in page).
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
}


def console_base(slug: str) -> str:
    return f"/console/{slug}"


def csrf_token(secret: str, scope: str, binding: str) -> str:
    """The token a form of this browser must send back: bound to the session token (or the
    signed-out nonce) and the console (a tenant's id, or "vendor")."""
    digest = hmac.new(secret.encode(), f"csrf:{scope}:{binding}".encode(), hashlib.sha256)
    return digest.hexdigest()


def csrf_matches(secret: str, scope: str, binding: str, sent: str | None) -> bool:
    if not sent or not binding:
        return False
    return hmac.compare_digest(csrf_token(secret, scope, binding), sent)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def _secure(settings: Settings) -> bool:
    return not settings.public_url.startswith("http://")


def session_cookie(settings: Settings, path: str, token: str, expires_at: datetime) -> Cookie:
    """The session's cookie, for the console at ``path`` only."""
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path=path,
        expires=int(expires_at.timestamp()),
        httponly=True,
        secure=_secure(settings),
        samesite="lax",
    )


def nonce_cookie(settings: Settings, path: str, nonce: str) -> Cookie:
    return Cookie(
        key=CSRF_COOKIE,
        value=nonce,
        path=path,
        httponly=True,
        secure=_secure(settings),
        samesite="lax",
    )


def expired_cookie(settings: Settings, path: str, key: str) -> Cookie:
    return Cookie(
        key=key,
        value="",
        path=path,
        max_age=0,
        expires=0,
        httponly=True,
        secure=_secure(settings),
        samesite="lax",
    )


# Paths the headers go on: the consoles and their static files.
CONSOLE_PATHS = ("/console/", "/vendor/console", "/static/console/")


async def security_headers(message: Message, scope: Scope) -> None:
    """The app's ``before_send`` hook: the headers above on every response under
    ``CONSOLE_PATHS``, error pages, redirects and the router's own 404/405 included (a
    handler may set its own ``cache-control``, as static files do)."""
    if message["type"] != "http.response.start" or not scope["path"].startswith(CONSOLE_PATHS):
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        if name not in headers:
            headers[name] = value


def is_htmx(headers: Any) -> bool:
    return bool(headers.get("hx-request"))
