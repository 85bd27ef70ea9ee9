"""A fake WeChat Pay API v3 server for the tests: a real HTTP server on a loopback port that
speaks WeChat Pay's protocol with real crypto (being built; see the module's final docstring).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvicorn
from litestar import Litestar


class FakeWeChatPay:
    def __init__(self) -> None:
        self.url = ""

    def app(self) -> Litestar:
        return Litestar(route_handlers=[])


@pytest.fixture(scope="session")
async def fake_wechatpay() -> AsyncIterator[FakeWeChatPay]:
    """The fake WeChat Pay server for the whole test session, on a loopback port."""
    fake = FakeWeChatPay()
    config = uvicorn.Config(fake.app(), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    fake.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    yield fake
    server.should_exit = True
    await task
