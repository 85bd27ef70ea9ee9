"""Reading and editing the store's settings; a store that never saved any gets the defaults.

The WeChat AppSecret is stored encrypted (``core.crypto``, bound to the tenant and the field
``wechat_secret``) and never leaves the server: the API shows whether it is set and its
fingerprint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgspec import UNSET
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import require_role, require_staff
from core.context import TenantContext
from core.crypto import decrypt, encrypt, fingerprint
from core.errors import AppError, Conflict, FieldError
from core.store import schemas as s
from core.store.models import StoreSettings

if TYPE_CHECKING:
    from core.runtime import Runtime

SECRET_FIELD = "wechat_secret"


async def get_settings(ctx: TenantContext) -> StoreSettings:
    """The tenant's settings row, created with the defaults on first use."""
    return await settings_in(ctx.session, ctx.tenant_id)


async def settings_in(session: AsyncSession, tenant_id: str) -> StoreSettings:
    row = await session.get(StoreSettings, tenant_id)
    if row is None:
        # In a savepoint: two first uses at once (a new store's first two orders) both
        # insert; the one that loses reads the winner's row instead of failing.
        try:
            async with session.begin_nested():
                row = StoreSettings(tenant_id=tenant_id)
                session.add(row)
        except IntegrityError:
            row = await session.get(StoreSettings, tenant_id)
            if row is None:
                raise
    return row


def _secret_of(secret_key: str, row: StoreSettings) -> str | None:
    if not row.wechat_secret_enc:
        return None
    try:
        return decrypt(secret_key, row.tenant_id, SECRET_FIELD, row.wechat_secret_enc)
    except ValueError:
        return None  # written under another deployment key; it must be entered again


def settings_out(secret_key: str, row: StoreSettings) -> s.StoreSettingsOut:
    secret = _secret_of(secret_key, row)
    return s.StoreSettingsOut(
        payment_window_minutes=row.payment_window_minutes,
        shipping_fee=row.shipping_fee,
        free_shipping_threshold=row.free_shipping_threshold,
        auto_complete_days=row.auto_complete_days,
        wechat_appid=row.wechat_appid,
        wechat_secret_set=row.wechat_secret_enc is not None,
        wechat_secret_fingerprint=fingerprint(secret) if secret is not None else None,
        updated_at=row.updated_at,
    )


async def read_store_settings(ctx: TenantContext, secret_key: str) -> s.StoreSettingsOut:
    require_staff(ctx, "manager")
    return settings_out(secret_key, await get_settings(ctx))


async def update_store_settings(
    ctx: TenantContext, secret_key: str, data: s.StoreSettingsIn
) -> s.StoreSettingsOut:
    """Managers edit the commerce fields; only the owner touches the WeChat credentials."""
    principal = require_staff(ctx, "manager")
    if data.wechat_appid is not UNSET or data.wechat_secret is not UNSET:
        require_role(principal.role, "owner")
    row = await get_settings(ctx)
    if (
        isinstance(data.wechat_appid, str)
        and data.wechat_appid != row.wechat_appid
        and row.wechat_secret_enc is not None
        and data.wechat_secret is UNSET
    ):
        # The old secret belongs to the old app; keeping it would only fail at login.
        raise AppError(
            "a new AppID needs its AppSecret",
            code="request.invalid",
            errors=[FieldError(field="wechat_secret", message="required when the AppID changes")],
        )
    if data.payment_window_minutes is not UNSET:
        row.payment_window_minutes = data.payment_window_minutes
    if data.shipping_fee is not UNSET:
        row.shipping_fee = data.shipping_fee
    if data.free_shipping_threshold is not UNSET:
        row.free_shipping_threshold = data.free_shipping_threshold
    if data.auto_complete_days is not UNSET:
        row.auto_complete_days = data.auto_complete_days
    if data.wechat_appid is not UNSET:
        row.wechat_appid = data.wechat_appid or ""
    if data.wechat_secret is not UNSET:
        row.wechat_secret_enc = (
            encrypt(secret_key, ctx.tenant_id, SECRET_FIELD, data.wechat_secret)
            if data.wechat_secret is not None
            else None
        )
    await ctx.session.flush()
    return settings_out(secret_key, row)


async def wechat_credentials(rt: Runtime, tenant_id: str) -> tuple[str, str]:
    """The store's (AppID, AppSecret) for calling WeChat, read without taking a write lock
    (the caller goes to the network next); 409 ``wechat.not_configured`` when missing."""
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, tenant_id)
        row = await session.get(StoreSettings, tenant_id)
    if row is None or not row.wechat_appid or row.wechat_secret_enc is None:
        raise Conflict(
            "this store has not set up its WeChat mini-program", code="wechat.not_configured"
        )
    secret = _secret_of(rt.settings.secret_key, row)
    if secret is None:
        raise Conflict(
            "this store's WeChat AppSecret must be entered again", code="wechat.not_configured"
        )
    return row.wechat_appid, secret
