"""Merchant payment accounts: one per provider per store, entered by the owner.

A save validates the provider's config (``msgspec.convert`` into its ``config_type``, then
its ``check_config``), seals the secret fields together with the deployment's secret key
(``core.crypto``, bound to the tenant and the field ``payments:<provider>``) and keeps the
rest in plain ``config``. No API ever returns a secret: lists show a fingerprint of each.
At most one account of a store is active, the one buyers pay through.

``load_account`` decrypts an account for one provider call; the pay route, the webhook,
the payment jobs and refunds use it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import require_staff
from core.context import TenantContext, TenantInfo
from core.crypto import decrypt, encrypt, fingerprint
from core.db import utcnow
from core.errors import AppError, Conflict, FieldError, Invalid, field_errors_from_msgspec
from core.payments import schemas as s
from core.payments.models import PaymentAccount
from core.payments.providers import Account, PaymentProvider

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("storeplug.payments.accounts")

# Form fields a console leaves empty for "unchanged": a secret given like this is kept.
_KEEP = (None, "")


class NotConfigured(Conflict):
    code = "payment.not_configured"


def secrets_field(provider: str) -> str:
    """The associated-data name the provider's secrets are sealed under."""
    return f"payments:{provider}"


def notify_url(rt: Runtime, tenant_slug: str, provider: str) -> str:
    """Where ``provider`` sends its notifications for this store."""
    return f"{rt.settings.public_url.rstrip('/')}/webhooks/{tenant_slug}/{provider}"


def provider_named(rt: Runtime, name: str) -> PaymentProvider:
    provider = rt.payment_providers.get(name)
    if provider is None:
        raise AppError(
            f"no payment provider named {name!r}", code="payment.unknown_provider", status=404
        )
    return provider


def _available(rt: Runtime, provider: PaymentProvider) -> bool:
    return not provider.sandbox or rt.settings.allow_sandbox_payments


def _require_available(rt: Runtime, provider: PaymentProvider) -> None:
    if not _available(rt, provider):
        raise Conflict(
            f"this deployment does not allow the {provider.name} provider",
            code="payment.sandbox_disabled",
        )


def _open_secrets(rt: Runtime, row: PaymentAccount) -> dict[str, Any] | None:
    """The account's secret fields, or None when there are none or they no longer decrypt
    (written under another deployment key: they must be entered again)."""
    if not row.secrets_enc:
        return None
    field = secrets_field(row.provider)
    try:
        plain = decrypt(rt.settings.secret_key, row.tenant_id, field, row.secrets_enc)
    except ValueError:
        log.warning("payment account %s of tenant %s does not decrypt", row.provider, row.tenant_id)
        return None
    opened: dict[str, Any] = msgspec.json.decode(plain)
    return opened


def account_from_row(
    rt: Runtime, tenant: TenantInfo, provider: PaymentProvider, row: PaymentAccount
) -> Account:
    """Decrypt a stored account into the provider's config; 409 ``payment.not_configured``
    when its secrets are missing or no longer decrypt."""
    _require_available(rt, provider)
    sealed = _open_secrets(rt, row)
    if provider.secret_fields and sealed is None:
        raise NotConfigured(f"this store's {provider.title} credentials must be entered again")
    try:
        config = msgspec.convert({**row.config, **(sealed or {})}, provider.config_type)
    except msgspec.ValidationError:
        raise NotConfigured(
            f"this store's {provider.title} settings are incomplete; save them again"
        ) from None
    return Account(
        tenant_id=tenant.id, tenant_slug=tenant.slug, provider=provider.name, config=config
    )


async def account_in(
    session: AsyncSession, rt: Runtime, tenant: TenantInfo, provider: str | None = None
) -> tuple[PaymentProvider, Account]:
    """``load_account`` on a session the caller holds (scoped to ``tenant``)."""
    if provider is None:
        row = await session.scalar(
            select(PaymentAccount)
            .where(PaymentAccount.active.is_(True))
            .order_by(PaymentAccount.updated_at.desc())
            .limit(1)
        )
        if row is None:
            raise NotConfigured("this store does not take payments yet")
    else:
        provider_named(rt, provider)
        row = await session.get(PaymentAccount, (tenant.id, provider))
        if row is None:
            raise NotConfigured(f"this store has not set up {provider}")
    found = provider_named(rt, row.provider)
    return found, account_from_row(rt, tenant, found, row)


async def load_account(
    rt: Runtime, tenant: TenantInfo, provider: str | None = None
) -> tuple[PaymentProvider, Account]:
    """The provider and the decrypted account of ``provider`` for this store (None: the
    active one), read without taking a write lock (the caller goes to the network next).
    409 ``payment.not_configured`` when there is none; 404 for an unknown provider."""
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, tenant.id)
        return await account_in(session, rt, tenant, provider)


# ---- the merchant API -----------------------------------------------------------------------


def _out(
    rt: Runtime, tenant: TenantInfo, provider: PaymentProvider, row: PaymentAccount | None
) -> s.AccountOut:
    return s.AccountOut(
        provider=provider.name,
        title=provider.title,
        available=_available(rt, provider),
        configured=row is not None,
        active=row is not None and row.active,
        config=dict(row.config) if row is not None else {},
        fingerprints=dict(row.fingerprints) if row is not None else {},
        secret_fields=sorted(provider.secret_fields),
        config_schema=msgspec.json.schema(provider.config_type),
        notify_url=notify_url(rt, tenant.slug, provider.name),
        updated_at=row.updated_at if row is not None else None,
    )


async def list_accounts(ctx: TenantContext, rt: Runtime) -> list[s.AccountOut]:
    """Every registered provider with this store's account for it (managers and owners)."""
    require_staff(ctx, "manager")
    rows = {row.provider: row for row in await ctx.session.scalars(select(PaymentAccount))}
    return [
        _out(rt, ctx.tenant, provider, rows.get(name))
        for name, provider in sorted(rt.payment_providers.items())
    ]


async def read_account(ctx: TenantContext, rt: Runtime, name: str) -> s.AccountOut:
    require_staff(ctx, "manager")
    provider = provider_named(rt, name)
    return _out(
        rt, ctx.tenant, provider, await ctx.session.get(PaymentAccount, (ctx.tenant_id, name))
    )


def _config_error(detail: str, errors: list[FieldError], code: str = "") -> AppError:
    return Invalid(detail, code=code or "payment.invalid_config", errors=errors)


def _validated(provider: PaymentProvider, raw: dict[str, Any]) -> msgspec.Struct:
    """The provider's config from ``raw``, or 422 naming ``config.<field>``. No message
    repeats a value: they may be keys."""
    try:
        config = msgspec.convert(raw, provider.config_type)
    except msgspec.ValidationError as exc:
        errors = field_errors_from_msgspec(exc, prefix="config")
        raise _config_error(f"invalid {provider.title} settings", errors) from None
    try:
        provider.check_config(config)
    except AppError as exc:
        errors = [
            e if e.field.startswith("config") else FieldError(f"config.{e.field}", e.message)
            for e in exc.errors
        ]
        code = "" if exc.code in ("validation.failed", "bad_request") else exc.code
        raise _config_error(exc.detail, errors, code) from None
    except (ValueError, TypeError):
        raise _config_error(
            f"invalid {provider.title} settings",
            [FieldError("config", "the provider could not use these settings")],
        ) from None
    return config


async def _lock_accounts(ctx: TenantContext) -> None:
    """Serialise saves of one store's accounts, so two concurrent "make this one active"
    cannot both win (SQLite serialises writers already)."""
    if ctx.session.get_bind().dialect.name == "postgresql":
        await ctx.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"payment_accounts:{ctx.tenant_id}"},
        )


async def save_account(
    ctx: TenantContext, rt: Runtime, name: str, data: s.AccountIn
) -> s.AccountOut:
    """Create or replace the store's account for one provider (owner only: these are the
    keys to the store's money)."""
    require_staff(ctx, "owner")
    provider = provider_named(rt, name)
    _require_available(rt, provider)
    await _lock_accounts(ctx)
    row = await ctx.session.get(PaymentAccount, (ctx.tenant_id, name))
    kept = (_open_secrets(rt, row) if row is not None else None) or {}
    raw = dict(data.config)
    for field in provider.secret_fields:
        if raw.get(field) in _KEEP and field in kept:
            raw[field] = kept[field]
    config = _validated(provider, raw)
    values: dict[str, Any] = msgspec.to_builtins(config)
    sealed = {k: v for k, v in values.items() if k in provider.secret_fields and v not in _KEEP}
    plain = {k: v for k, v in values.items() if k not in provider.secret_fields}
    if row is None:
        row = PaymentAccount(provider=name, active=False)
        ctx.session.add(row)
    row.config = plain
    row.secrets_enc = (
        encrypt(
            rt.settings.secret_key,
            ctx.tenant_id,
            secrets_field(name),
            msgspec.json.encode(sealed).decode(),
        )
        if sealed
        else None
    )
    row.fingerprints = {
        k: fingerprint(v if isinstance(v, str) else msgspec.json.encode(v).decode())
        for k, v in sorted(sealed.items())
    }
    row.updated_at = utcnow()
    if data.active is True:
        await ctx.session.execute(
            update(PaymentAccount)
            .where(PaymentAccount.provider != name, PaymentAccount.active.is_(True))
            .values(active=False, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    if isinstance(data.active, bool):
        row.active = data.active
    await ctx.session.flush()
    return _out(rt, ctx.tenant, provider, row)
