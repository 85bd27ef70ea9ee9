"""The vendor's operators: named accounts with argon2 passwords that sign in to the vendor
console, and their sessions.

They are created from the command line (``storeplug vendor-users create NAME``), which prints
a one-time password the operator changes at their first sign-in. Sessions are opaque tokens
like the staff's (only their SHA-256 is stored), revoked on sign-out, on a password change
(the other sessions), on deactivation and on a password reset. The shared
``STOREPLUG_VENDOR_TOKEN`` stays what machines use for the vendor API; an operator's session
opens only the console.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import hash_password, hash_token, new_token, verify_password
from core.context import Principal
from core.db import utcnow
from core.errors import AppError, Conflict, NotFound, Unauthorized
from core.ratelimit import FailureCounter
from core.runtime import Runtime
from tenants import schemas as s
from tenants.models import VendorSession, VendorUser
from tenants.service import SESSION_TTL

VENDOR_TOKEN_PREFIX = "spo"
VENDOR_KIND = "vendor"


def user_out(user: VendorUser) -> s.VendorUserOut:
    return s.VendorUserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        active=user.active,
        must_change_password=user.must_change_password,
        locale=user.locale,
        created_at=user.created_at,
    )


def _initial_password() -> str:
    return secrets.token_urlsafe(12)


async def _by_username(session: AsyncSession, username: str) -> VendorUser:
    user = await session.scalar(select(VendorUser).where(VendorUser.username == username))
    if user is None:
        raise NotFound(f"no vendor user {username!r}", code="vendor_user.not_found")
    return user


async def _revoke_sessions(session: AsyncSession, user_id: str, keep: str = "") -> None:
    await session.execute(
        update(VendorSession)
        .where(
            VendorSession.user_id == user_id,
            VendorSession.id != keep,
            VendorSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )


# ---- managed from the command line ----------------------------------------------------------


async def create(rt: Runtime, data: s.VendorUserCreate) -> s.VendorUserCreated:
    password = _initial_password()
    try:
        async with rt.db.shared_session() as session:
            taken = await session.scalar(
                select(VendorUser.id).where(VendorUser.username == data.username)
            )
            if taken is not None:
                raise Conflict(f"{data.username!r} is taken", code="vendor_user.username_taken")
            user = VendorUser(
                username=data.username,
                display_name=data.display_name,
                password_hash=hash_password(password),
                must_change_password=True,
            )
            session.add(user)
    except IntegrityError:
        raise Conflict(f"{data.username!r} is taken", code="vendor_user.username_taken") from None
    return s.VendorUserCreated(user=user_out(user), initial_password=password)


async def list_users(rt: Runtime) -> list[s.VendorUserOut]:
    async with rt.db.shared_session() as session:
        rows = await session.scalars(select(VendorUser).order_by(VendorUser.username))
        return [user_out(row) for row in rows]


async def reset_password(rt: Runtime, username: str) -> s.VendorUserCreated:
    """A new one-time password (for an operator who forgot theirs); every session ends."""
    password = _initial_password()
    async with rt.db.shared_session() as session:
        user = await _by_username(session, username)
        user.password_hash = hash_password(password)
        user.must_change_password = True
        await _revoke_sessions(session, user.id)
    await rt.login_failures.clear(_failure_key(username))
    return s.VendorUserCreated(user=user_out(user), initial_password=password)


async def set_active(rt: Runtime, username: str, active: bool) -> s.VendorUserOut:
    async with rt.db.shared_session() as session:
        user = await _by_username(session, username)
        user.active = active
        if not active:
            await _revoke_sessions(session, user.id)
    return user_out(user)


# ---- signing in to the vendor console ----------------------------------------------------


def _failure_key(username: str) -> str:
    return f"sp:{{rl:vendor}}:login:{username.lower()}"


async def login(rt: Runtime, data: s.LoginIn, failures: FailureCounter) -> s.VendorLoginOut:
    # The same throttle as the staff's: per username, known or not.
    key = _failure_key(data.username)
    if await failures.blocked(key):
        raise AppError(
            "too many failed sign-ins; try again later",
            code="auth.too_many_attempts",
            status=429,
            headers={"Retry-After": str(failures.window_s)},
        )
    async with rt.db.shared_session() as session:
        user = await session.scalar(select(VendorUser).where(VendorUser.username == data.username))
        # verify_password runs for an unknown user too, so timing does not reveal names.
        ok = verify_password(user.password_hash if user else None, data.password)
        if user is None or not ok or not user.active:
            await failures.fail(key)
            raise Unauthorized("wrong username or password", code="auth.invalid_credentials")
        token = new_token(VENDOR_TOKEN_PREFIX)
        expires_at = utcnow() + SESSION_TTL
        session.add(
            VendorSession(user_id=user.id, token_hash=hash_token(token), expires_at=expires_at)
        )
    await failures.clear(key)
    return s.VendorLoginOut(token=token, expires_at=expires_at, user=user_out(user))


async def authenticate(rt: Runtime, token: str) -> Principal | None:
    """The operator a console session token belongs to; None for anything else (a staff
    token, an API key, the vendor API's token, an expired or revoked session)."""
    if not token.startswith(VENDOR_TOKEN_PREFIX + "_"):
        return None
    async with rt.db.shared_session() as session:
        row = (
            await session.execute(
                select(VendorSession, VendorUser)
                .join(VendorUser, VendorUser.id == VendorSession.user_id)
                .where(VendorSession.token_hash == hash_token(token))
            )
        ).first()
    if row is None:
        return None
    sess, user = row
    if sess.revoked_at is not None or sess.expires_at <= utcnow() or not user.active:
        return None
    return Principal(
        kind=VENDOR_KIND,
        id=user.id,
        role=VENDOR_KIND,
        name=user.display_name or user.username,
        locale=user.locale,
        session_id=sess.id,
    )


async def logout(rt: Runtime, token: str) -> None:
    async with rt.db.shared_session() as session:
        await session.execute(
            update(VendorSession)
            .where(
                VendorSession.token_hash == hash_token(token), VendorSession.revoked_at.is_(None)
            )
            .values(revoked_at=utcnow())
        )


async def current(rt: Runtime, principal: Principal) -> s.VendorUserOut:
    async with rt.db.shared_session() as session:
        user = await session.get(VendorUser, principal.id)
        assert user is not None  # authenticate() found it for this request
        return user_out(user)


async def change_password(
    rt: Runtime, principal: Principal, data: s.PasswordChange
) -> s.VendorUserOut:
    """A new password ends the operator's other sessions; this one stays signed in."""
    async with rt.db.shared_session() as session:
        user = await session.get(VendorUser, principal.id)
        assert user is not None
        if not verify_password(user.password_hash, data.current_password):
            raise Unauthorized("current password is wrong", code="auth.invalid_credentials")
        user.password_hash = hash_password(data.new_password)
        user.must_change_password = False
        await _revoke_sessions(session, user.id, keep=principal.session_id)
    return user_out(user)


async def set_locale(rt: Runtime, principal: Principal, locale: str) -> s.VendorUserOut:
    async with rt.db.shared_session() as session:
        user = await session.get(VendorUser, principal.id)
        assert user is not None
        user.locale = locale
    return user_out(user)
