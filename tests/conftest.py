"""The project's tests use the public test kit, ``storeplug.testing`` (its docstring lists the
fixtures): every test that takes ``backend`` (directly or through ``rt``/``client``) runs on
SQLite with in-process stores and jobs, and on PostgreSQL (as a non-owner role, so row-level
security applies) with Redis."""

from __future__ import annotations

from typing import Any

import pytest

pytest_plugins = ("storeplug.testing",)
# Plugins only the tests load (by module, not by entry point).
TEST_PLUGINS = ("tests.plugins.echo.plugin", "tests.plugins.needs_echo.plugin")


@pytest.fixture(scope="session")
def storeplug_overrides() -> dict[str, Any]:
    return {"plugin_modules": TEST_PLUGINS}
