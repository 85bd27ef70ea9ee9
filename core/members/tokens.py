"""Member access tokens: short-lived HS256 JWTs (PyJWT) signed with a key derived from the
deployment's secret. They are checked without a query on every storefront request; the
refresh token behind them is a revocable row (``MemberSession``)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import jwt

from core.db import utcnow
from core.errors import Unauthorized

ACCESS_TTL = timedelta(hours=2)
REFRESH_TTL = timedelta(days=30)
AUDIENCE = "storeplug:store"


def _signing_key(secret_key: str) -> bytes:
    # A key of its own, so a leak of one use of the secret does not forge member tokens.
    return hmac.new(secret_key.encode(), b"storeplug member tokens v1", hashlib.sha256).digest()


def issue_access_token(secret_key: str, tenant_id: str, member_id: str) -> tuple[str, int]:
    """Returns the token and its lifetime in seconds."""
    now = utcnow()
    claims = {
        "sub": member_id,
        "tid": tenant_id,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + ACCESS_TTL).timestamp()),
    }
    return jwt.encode(claims, _signing_key(secret_key), algorithm="HS256"), int(
        ACCESS_TTL.total_seconds()
    )


def verify_access_token(secret_key: str, tenant_id: str, token: str) -> str:
    """The member id, if the token is valid *for this tenant*; 401 otherwise."""
    try:
        claims = jwt.decode(
            token,
            _signing_key(secret_key),
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "tid"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the member token has expired", code="auth.token_expired") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("invalid member token", code="auth.invalid_token") from None
    if claims["tid"] != tenant_id:
        raise Unauthorized("this token belongs to another store", code="auth.invalid_token")
    return str(claims["sub"])
