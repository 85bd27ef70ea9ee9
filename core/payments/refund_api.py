"""HTTP routes (being built)."""

from __future__ import annotations

from typing import Any

STORE_ROUTES: list[Any] = []
MERCHANT_ROUTES: list[Any] = []
