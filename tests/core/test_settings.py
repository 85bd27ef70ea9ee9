"""Settings come from STOREPLUG_* variables; a wrong one stops start-up with one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.settings import DEFAULT_DATABASE_URL, SettingsError, load_settings


def test_defaults_are_embedded() -> None:
    settings = load_settings({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.redis_url == ""
    assert settings.is_sqlite
    assert settings.owner_database_url == settings.database_url


def test_environment_is_read() -> None:
    settings = load_settings(
        {
            "STOREPLUG_DATABASE_URL": "postgresql+asyncpg://app@db/sp",
            "STOREPLUG_MIGRATION_DATABASE_URL": "postgresql+asyncpg://owner@db/sp",
            "STOREPLUG_REDIS_URL": "redis://cache:6379/0",
            "STOREPLUG_WORKERS": "4",
            "STOREPLUG_PLUGIN_MODULES": "a.plugin, b.plugin",
        }
    )
    assert settings.workers == 4
    assert settings.plugin_modules == ("a.plugin", "b.plugin")
    assert settings.owner_database_url.startswith("postgresql+asyncpg://owner@")
    assert not settings.is_sqlite


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STOREPLUG_DATABASE_URL", "mysql://x/y", "STOREPLUG_DATABASE_URL must start with"),
        ("STOREPLUG_REDIS_URL", "http://cache", "STOREPLUG_REDIS_URL must be a redis://"),
        ("STOREPLUG_WORKERS", "many", "STOREPLUG_WORKERS must be an integer"),
        ("STOREPLUG_WORKERS", "0", "STOREPLUG_WORKERS must be at least 1"),
        ("STOREPLUG_SECRET_KEY", "short", "STOREPLUG_SECRET_KEY must be at least 32"),
    ],
)
def test_bad_values_explain_themselves(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({name: value})


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STOREPLUG_")}
    return subprocess.run(
        [sys.executable, "-m", "storeplug.cli", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_stops_with_one_line() -> None:
    result = _cli("plugins", "list", STOREPLUG_WORKERS="zero")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("storeplug: STOREPLUG_WORKERS must be an integer")


def test_serve_needs_secrets_and_redis_for_workers() -> None:
    missing = _cli("serve")
    assert missing.returncode == 2
    assert "STOREPLUG_VENDOR_TOKEN" in missing.stderr
    no_redis = _cli(
        "serve",
        STOREPLUG_VENDOR_TOKEN="t" * 20,
        STOREPLUG_SECRET_KEY="s" * 40,
        STOREPLUG_WORKERS="2",
    )
    assert no_redis.returncode == 2
    assert "needs STOREPLUG_REDIS_URL" in no_redis.stderr
