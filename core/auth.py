"""Credentials: argon2 password hashes, opaque bearer tokens stored as SHA-256 hashes,
and the constant-time vendor token check."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import Forbidden, Unauthorized

if TYPE_CHECKING:
    from core.context import Principal, TenantContext

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing the same.
_DUMMY_HASH = _hasher.hash("storeplug-dummy-password")

ROLE_RANK = {"clerk": 1, "manager": 2, "owner": 3}


class StaffAuthenticator(Protocol):
    """Turns a bearer token into the merchant caller, within the tenant of ``ctx``, or raises
    ``Unauthorized``. The vendor side provides it (``tenants.service.authenticate``); core's
    guards call it through the runtime."""

    def __call__(self, ctx: TenantContext, token: str) -> Awaitable[Principal]: ...


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token(prefix: str) -> str:
    """An opaque bearer secret; the prefix tells a reader what kind it is (``sps_``, ``spk_``)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str:
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthorized("missing bearer token", code="auth.required")
    token = authorization[len("Bearer ") :].strip()
    if not token:
        raise Unauthorized("missing bearer token", code="auth.required")
    return token


def check_vendor_token(expected: str, authorization: str | None) -> None:
    token = bearer_token(authorization)
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("invalid vendor token", code="auth.invalid_token")


def has_role(role: str, minimum: str) -> bool:
    """Whether ``role`` is ``minimum`` or above (clerk < manager < owner)."""
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[minimum]


def require_role(role: str, minimum: str) -> None:
    if not has_role(role, minimum):
        raise Forbidden(f"this needs the {minimum} role", code="auth.role_required")


def require_staff(ctx: TenantContext, minimum: str) -> Principal:
    """The merchant caller (a staff session or an API key) with at least the ``minimum`` role
    (clerk < manager < owner); 401 for anyone else, 403 for a lower role."""
    principal = ctx.principal
    if principal is None or principal.kind not in ("staff", "api_key"):
        raise Unauthorized("sign in first", code="auth.required")
    require_role(principal.role, minimum)
    return principal
