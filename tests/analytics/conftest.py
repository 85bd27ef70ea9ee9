"""Fixtures of the analytics tests: the hand-computed data set, seeded once per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from storeplug.testing import LiveServer, onboard
from tests.analytics.support import Fixture, seed


@pytest.fixture(scope="module")
async def fixture_shop(server: LiveServer) -> AsyncIterator[Fixture]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        merchant = await onboard(http)
        yield await seed(server.runtime, merchant)
