"""Fire a burst of HTTP requests from a process of its own, so the test's event loop only
serves them (client and server in one loop would halve what each gets).

Reads ``{"base_url", "requests": [{"path", "headers", "json"}]}`` on stdin, sends every
request at once (one connection each), and writes ``[[status, body], ...]`` on stdout in
the same order.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx


async def fire(plan: dict[str, Any]) -> list[list[Any]]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=plan["base_url"], timeout=120, limits=limits) as http:

        async def one(request: dict[str, Any]) -> list[Any]:
            response = await http.post(
                request["path"], headers=request["headers"], json=request["json"]
            )
            return [response.status_code, response.json()]

        return await asyncio.gather(*(one(r) for r in plan["requests"]))


def main() -> None:
    plan = json.load(sys.stdin)
    json.dump(asyncio.run(fire(plan)), sys.stdout)


if __name__ == "__main__":
    main()
