"""Fixed-window counters for throttling guesses (staff logins now; pickup codes later).

On Redis the counter is shared by every worker process (INCR, then EXPIRE on the first hit);
without Redis there is one process and a dict does. Keys carry a hash tag per tenant so they
live in one Redis Cluster slot with the tenant's other keys.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis


class FailureCounter:
    """Counts failures per key within a window; a success clears the key."""

    def __init__(self, redis: Redis | None, limit: int, window_s: int) -> None:
        self._redis = redis
        self.limit = limit
        self.window_s = window_s
        self._local: dict[str, tuple[float, int]] = {}

    async def blocked(self, key: str) -> bool:
        return await self._count(key) >= self.limit

    async def fail(self, key: str) -> int:
        if self._redis is not None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, self.window_s, nx=True)
                count, _ = await pipe.execute()
            return int(count)
        started, count = self._window(key)
        self._local[key] = (started, count + 1)
        return count + 1

    async def clear(self, key: str) -> None:
        if self._redis is not None:
            await self._redis.delete(key)
        self._local.pop(key, None)

    async def _count(self, key: str) -> int:
        if self._redis is not None:
            value = await self._redis.get(key)
            return int(value or 0)
        return self._window(key)[1]

    def _window(self, key: str) -> tuple[float, int]:
        now = time.monotonic()
        started, count = self._local.get(key, (now, 0))
        if now - started >= self.window_s:
            return now, 0
        return started, count
