"""Serving an ASGI app on a loopback port inside the test's event loop: the app under test
and the fake WeChat servers all run this way, as real HTTP servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn


@asynccontextmanager
async def serve(app: Any, port: int = 0) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 (``port`` 0: any free one) and yield its base URL."""
    # Idle connections outlive the clients' keep-alive pools (httpx drops them after 5 s):
    # with uvicorn's default of 5 s, a client could reuse a connection the server is
    # closing at that moment and see a ReadError on a slow machine.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_keep_alive=75,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # it failed to start: raise why
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{bound}"
    finally:
        server.should_exit = True
        await task
