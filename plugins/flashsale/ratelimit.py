"""Rate limits of the buy route: per member and per client IP, fixed windows.

Not litestar's ``RateLimitMiddleware``: it runs before the guards, so it cannot key on the
signed-in member; its limit is one number per app, not the merchant's setting; and it keeps a
JSON list of timestamps per key, read and rewritten under an in-process lock, so several
worker processes sharing a Redis store can each let a request through on the same count.
Here each window is one Redis ``INCR`` (+ ``EXPIRE NX``) per key, atomic across processes,
both keys in one round trip and one cluster slot (the tenant's hash tag). Without Redis one
process serves, and a dict does.
"""

from __future__ import annotations

import time

from plugins.flashsale import errors
from plugins.flashsale.redis_stock import AnyRedis
from plugins.flashsale.schemas import FlashSaleSettings

# Fixed-window counts of the embedded mode: key → (window end, count).
_LOCAL: dict[str, tuple[float, int]] = {}
_LOCAL_MAX = 100_000


def _local_hit(key: str, window_s: int) -> tuple[int, int]:
    now = time.monotonic()
    ends, count = _LOCAL.get(key, (0.0, 0))
    if ends <= now:
        if len(_LOCAL) >= _LOCAL_MAX:  # drop finished windows rather than grow forever
            for stale in [k for k, (e, _) in _LOCAL.items() if e <= now]:
                del _LOCAL[stale]
        ends, count = now + window_s, 0
    _LOCAL[key] = (ends, count + 1)
    return count + 1, max(int(ends - now + 0.999), 1)


async def check(
    redis: AnyRedis | None,
    tenant_id: str,
    member_id: str,
    client_ip: str,
    settings: FlashSaleSettings,
) -> None:
    """Count this buy request; 429 ``flashsale.rate_limited`` with Retry-After when the
    member or the IP is over the merchant's limit for the window."""
    window = settings.rate_window_seconds
    tag = f"sp:{{fs:{tenant_id}}}:rl"
    member_key, ip_key = f"{tag}:m:{member_id}", f"{tag}:ip:{client_ip}"
    if redis is None:
        by_member, member_wait = _local_hit(member_key, window)
        by_ip, ip_wait = _local_hit(ip_key, window)
    else:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(member_key)
            pipe.expire(member_key, window, nx=True)
            pipe.ttl(member_key)
            pipe.incr(ip_key)
            pipe.expire(ip_key, window, nx=True)
            pipe.ttl(ip_key)
            by_member, _, member_wait, by_ip, _, ip_wait = await pipe.execute()
    if by_member > settings.buys_per_member:
        raise errors.rate_limited(int(member_wait))
    if by_ip > settings.buys_per_ip:
        raise errors.rate_limited(int(ip_wait))
