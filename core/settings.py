"""Deployment settings, read once from ``STOREPLUG_*`` environment variables.

A wrong value stops start-up with a one-line explanation (``SettingsError``) rather than
failing later on the first request that needs it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import msgspec

PREFIX = "STOREPLUG_"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./storeplug.db"


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str = DEFAULT_DATABASE_URL
    # Migrations run as the table owner; the app itself connects as a non-owner role on
    # PostgreSQL so that row-level security applies to it. Empty means "same as database_url".
    migration_database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    vendor_token: str = ""
    workers: int = 2
    host: str = "127.0.0.1"
    port: int = 8000
    # Extra plugin modules to register at start-up (comma separated import paths), in
    # addition to the built-ins and the ``storeplug.plugins`` entry points.
    plugin_modules: tuple[str, ...] = ()
    wechat_base_url: str = "https://api.weixin.qq.com"
    wechatpay_base_url: str = "https://api.mch.weixin.qq.com"
    # The public https base URL WeChat Pay reaches this deployment at: notification URLs are
    # ``<public_url>/webhooks/<tenant>/wechatpay``.
    public_url: str = "http://127.0.0.1:8000"
    # The sandbox payment provider takes no money; a deployment must opt in (the demo does).
    allow_sandbox_payments: bool = False
    log_level: str = "INFO"

    @property
    def owner_database_url(self) -> str:
        return self.migration_database_url or self.database_url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_INT_FIELDS = {"workers", "port"}
_TUPLE_FIELDS = {"plugin_modules"}
_BOOL_FIELDS = {"allow_sandbox_payments"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build Settings from the environment; ``overrides`` win (used by the CLI and tests)."""
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for field in Settings.__struct_fields__:
        value = env.get(PREFIX + field.upper())
        if value is None:
            continue
        if field in _INT_FIELDS:
            try:
                raw[field] = int(value)
            except ValueError:
                raise SettingsError(
                    f"{PREFIX}{field.upper()} must be an integer, got {value!r}"
                ) from None
        elif field in _BOOL_FIELDS:
            if value.strip().lower() not in _TRUE | _FALSE:
                raise SettingsError(f"{PREFIX}{field.upper()} must be true or false, got {value!r}")
            raw[field] = value.strip().lower() in _TRUE
        elif field in _TUPLE_FIELDS:
            raw[field] = tuple(part.strip() for part in value.split(",") if part.strip())
        else:
            raw[field] = value
    raw.update(overrides)
    try:
        settings = msgspec.convert(raw, Settings)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid setting: {exc}") from None
    _check(settings)
    return settings


def _check(settings: Settings) -> None:
    url = settings.database_url
    if not (url.startswith("sqlite+aiosqlite://") or url.startswith("postgresql+asyncpg://")):
        raise SettingsError(
            f"{PREFIX}DATABASE_URL must start with sqlite+aiosqlite:// or "
            f"postgresql+asyncpg://, got {url!r}"
        )
    if settings.redis_url and not settings.redis_url.startswith(("redis://", "rediss://")):
        raise SettingsError(f"{PREFIX}REDIS_URL must be a redis:// URL, got {settings.redis_url!r}")
    if not settings.public_url.startswith(("http://", "https://")):
        raise SettingsError(
            f"{PREFIX}PUBLIC_URL must be an http(s) URL, got {settings.public_url!r}"
        )
    if settings.workers < 1:
        raise SettingsError(f"{PREFIX}WORKERS must be at least 1, got {settings.workers}")
    if settings.secret_key and len(settings.secret_key) < 32:
        raise SettingsError(f"{PREFIX}SECRET_KEY must be at least 32 characters long")
