"""Fixtures of the order tests (shared by test_orders, test_order_placement,
test_order_races and test_order_jobs)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from core.runtime import Runtime
from tests.commerce.orders_support import HookRecorder, Shop, new_shop


@pytest.fixture
def hooks(rt: Runtime) -> Iterator[HookRecorder]:
    """Listen to the order hooks for one test (registered like an always-on core module)."""
    recorder = HookRecorder()
    name = f"tests.order_hooks.{secrets.token_hex(4)}"
    rt.plugins.pm.register(recorder, name=name)
    yield recorder
    rt.plugins.pm.unregister(name=name)


@pytest.fixture
async def shop(client: httpx.AsyncClient, rt: Runtime) -> AsyncIterator[Shop]:
    yield await new_shop(client, rt)
