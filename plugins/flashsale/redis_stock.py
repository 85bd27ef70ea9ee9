"""The Redis side of a flash sale: the fast gate in front of the database.

All keys of one activity share the hash tag ``{fs:<tenant>:<activity>}``, so they sit in one
Redis Cluster slot, and every script gets every key it touches through ``KEYS``:

- ``sp:{fs:t:a}:meta``     hash: status, starts/ends (epoch ms), member_limit, order_limit
- ``sp:{fs:t:a}:stock``    hash: SKU id → units left
- ``sp:{fs:t:a}:members``  hash: member id → units held or bought
- ``sp:{fs:t:a}:holds``    hash: reservation token → "sku|quantity|member" (unpaid or paid)
- ``sp:{fs:t:a}:lock``     short lock while one process rebuilds the keys from the database

``take`` checks the window, the member's count against the limit and the stock, then takes
both in one script; ``release`` gives a token's units back once (the HDEL decides). The
database keeps the truth and its own conditional UPDATE, so keys lost mid-sale (a restart, a
flush) are rebuilt from it and can never lead to an oversell.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

AnyRedis = Redis | RedisCluster
# What a check answers; "ok" and "held" let the buy through.
VERDICTS = (
    "ok",
    "held",
    "missing",
    "absent",
    "not_started",
    "ended",
    "no_sku",
    "order_limit",
    "limit",
    "sold_out",
)

_CHECK = """
local function check(meta_key, stock_key, members_key, sku, member, qty, now)
  local m = redis.call('HMGET', meta_key, 'status', 'starts', 'ends', 'member_limit',
                       'order_limit')
  local status = m[1]
  if not status then return 'missing' end
  if status == 'absent' then return 'absent' end
  if redis.call('EXISTS', stock_key) == 0 then return 'missing' end
  if status == 'ended' or status == 'cancelled' then return 'ended' end
  if now < tonumber(m[2]) then return 'not_started' end
  if now >= tonumber(m[3]) then return 'ended' end
  local left = redis.call('HGET', stock_key, sku)
  if not left then return 'no_sku' end
  if qty > tonumber(m[5]) then return 'order_limit' end
  local had = tonumber(redis.call('HGET', members_key, member) or '0')
  if had + qty > tonumber(m[4]) then return 'limit' end
  if tonumber(left) < qty then return 'sold_out' end
  return 'ok'
end
"""

# KEYS: meta, stock, members, holds. ARGV: sku, member, quantity, now_ms, token.
TAKE = (
    _CHECK
    + """
if redis.call('HEXISTS', KEYS[4], ARGV[5]) == 1 then return 'held' end
local qty = tonumber(ARGV[3])
local verdict = check(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], qty, tonumber(ARGV[4]))
if verdict ~= 'ok' then return verdict end
redis.call('HINCRBY', KEYS[2], ARGV[1], -qty)
redis.call('HINCRBY', KEYS[3], ARGV[2], qty)
redis.call('HSET', KEYS[4], ARGV[5], ARGV[1] .. '|' .. ARGV[3] .. '|' .. ARGV[2])
return 'ok'
"""
)

# KEYS: stock, members, holds. ARGV: token, "1" to return the units to the stock, "1" to
# return them to the member's count.
# Returns the units released, 0 when the token holds nothing (already released, never taken).
RELEASE = """
local hold = redis.call('HGET', KEYS[3], ARGV[1])
if not hold then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
local sku, qty, member = string.match(hold, '^([^|]+)|(%d+)|(.+)$')
qty = tonumber(qty)
if ARGV[2] == '1' and redis.call('HEXISTS', KEYS[1], sku) == 1 then
  redis.call('HINCRBY', KEYS[1], sku, qty)
end
local had = tonumber(redis.call('HGET', KEYS[2], member) or '0')
if ARGV[3] == '1' and had >= qty then redis.call('HINCRBY', KEYS[2], member, -qty) end
return qty
"""

# KEYS: stock, members. Returns {HGETALL stock, HGETALL members} at one instant.
SNAPSHOT = """
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
"""

# KEYS: meta, stock, members, holds. ARGV: force ("1"/"0"), ttl seconds, state JSON.
# Without force it loads only when the keys are missing (the first of several rebuilders).
LOAD = """
if ARGV[1] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1
   and (redis.call('EXISTS', KEYS[2]) == 1 or redis.call('HGET', KEYS[1], 'status') == 'absent')
then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
local state = cjson.decode(ARGV[3])
for k, v in pairs(state['meta']) do redis.call('HSET', KEYS[1], k, tostring(v)) end
for k, v in pairs(state['stock']) do redis.call('HSET', KEYS[2], k, v) end
for k, v in pairs(state['members']) do redis.call('HSET', KEYS[3], k, v) end
for k, v in pairs(state['holds']) do redis.call('HSET', KEYS[4], k, v) end
local ttl = tonumber(ARGV[2])
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ttl) end
return 1
"""


@dataclass(frozen=True)
class ActivityKeys:
    meta: str
    stock: str
    members: str
    holds: str
    lock: str

    @property
    def state(self) -> list[str]:
        return [self.meta, self.stock, self.members, self.holds]


def keys_for(tenant_id: str, activity_id: str) -> ActivityKeys:
    tag = f"sp:{{fs:{tenant_id}:{activity_id}}}"
    return ActivityKeys(
        meta=f"{tag}:meta",
        stock=f"{tag}:stock",
        members=f"{tag}:members",
        holds=f"{tag}:holds",
        lock=f"{tag}:lock",
    )


class State(msgspec.Struct, kw_only=True):
    """Everything ``LOAD`` writes, built from the database's truth."""

    meta: dict[str, str | int]
    stock: dict[str, int] = {}
    members: dict[str, int] = {}
    holds: dict[str, str] = {}


def hold_value(sku_id: str, quantity: int, member_id: str) -> str:
    return f"{sku_id}|{quantity}|{member_id}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(flat: list[Any]) -> dict[str, int]:
    return {_text(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}


class RedisStock:
    """The scripts registered on one Redis (or Redis Cluster) client."""

    def __init__(self, redis: AnyRedis) -> None:
        self.redis = redis
        self._take = redis.register_script(TAKE)
        self._release = redis.register_script(RELEASE)
        self._load = redis.register_script(LOAD)
        self._snapshot = redis.register_script(SNAPSHOT)

    async def take(
        self,
        keys: ActivityKeys,
        sku_id: str,
        member_id: str,
        quantity: int,
        now_ms: int,
        token: str,
    ) -> str:
        args: list[str | int] = [sku_id, member_id, quantity, now_ms, token]
        return _text(await self._take(keys=keys.state, args=args))

    async def release(
        self,
        keys: ActivityKeys,
        token: str,
        *,
        return_stock: bool = True,
        return_member: bool = True,
    ) -> int:
        """Give back what ``token`` holds, once. When the database refused a buy the gate
        let through, Redis was behind it: "sold out" keeps the stock taken, "over the
        limit" keeps the member's count, so Redis moves towards the truth."""
        args = [token, "1" if return_stock else "0", "1" if return_member else "0"]
        released = await self._release(keys=[keys.stock, keys.members, keys.holds], args=args)
        return int(released)

    async def load(self, keys: ActivityKeys, state: State, *, ttl_s: int, force: bool) -> bool:
        payload = msgspec.json.encode(state)
        args: list[str | int | bytes] = ["1" if force else "0", max(int(ttl_s), 1), payload]
        return bool(await self._load(keys=keys.state, args=args))

    async def snapshot(self, keys: ActivityKeys) -> tuple[dict[str, int], dict[str, int]] | None:
        """(stock per SKU, count per member) as Redis has them; None when the keys are gone."""
        stock, members = await self._snapshot(keys=[keys.stock, keys.members])
        if not stock:
            return None
        return _pairs(stock), _pairs(members)

    async def lock(self, keys: ActivityKeys, ttl_ms: int = 5000) -> bool:
        return bool(await self.redis.set(keys.lock, b"1", nx=True, px=ttl_ms))

    async def unlock(self, keys: ActivityKeys) -> None:
        await self.redis.delete(keys.lock)

    async def has_state(self, keys: ActivityKeys) -> bool:
        return bool(await self.redis.exists(keys.meta))


_BY_CLIENT: weakref.WeakKeyDictionary[Any, RedisStock] = weakref.WeakKeyDictionary()


def stock_on(redis: AnyRedis) -> RedisStock:
    """The scripts of this client, registered once per client."""
    found = _BY_CLIENT.get(redis)
    if found is None:
        found = _BY_CLIENT[redis] = RedisStock(redis)
    return found
