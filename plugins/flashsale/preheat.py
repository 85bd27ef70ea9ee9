"""Loading an activity's Redis keys from the database (preheat, rebuild) and checking that
Redis and the database agree (reconcile).

The database is the truth: each SKU's Redis stock is its activity stock less the units held
by unpaid orders and sold, each member's count is their row, and the holds are the unpaid
and paid flash orders' tokens. Loading is one Lua script, so a buyer sees the old keys or the
new ones, never half of them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import select

from core.context import TenantInfo
from core.db import utcnow
from core.runtime import Runtime
from plugins.flashsale import db_stock
from plugins.flashsale.models import FlashActivity, FlashItem
from plugins.flashsale.redis_stock import RedisStock, State, keys_for, stock_on
from plugins.flashsale.schemas import FlashSaleSettings

log = logging.getLogger("storeplug.flashsale")
PLUGIN = "flashsale"
ABSENT_TTL_S = 10  # how long "no such live activity" is remembered
KEEP_AFTER_END = timedelta(days=1)  # the keys outlive the sale, to answer "ended" fast
REBUILD_WAIT_S = 1.0


def settings_of(tenant: TenantInfo) -> FlashSaleSettings:
    return msgspec.convert(tenant.plugin_configs.get(PLUGIN) or {}, FlashSaleSettings)


def redis_stock(rt: Runtime, tenant: TenantInfo) -> RedisStock | None:
    """The Redis gate for this tenant's sales, or None for the database-only mode."""
    if rt.redis is None or not settings_of(tenant).use_redis:
        return None
    return stock_on(rt.redis)


async def _read_state(rt: Runtime, tenant_id: str, activity_id: str) -> tuple[State, int]:
    """The state Redis must hold, and how long the keys should live."""
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, tenant_id)
        activity = await session.get(FlashActivity, (tenant_id, activity_id))
        if activity is None or activity.status == "draft":
            return State(meta={"status": "absent"}), ABSENT_TTL_S
        items = list(
            (
                await session.scalars(select(FlashItem).where(FlashItem.activity_id == activity_id))
            ).all()
        )
        state = await db_stock.redis_state(session, activity, items)
    ttl = (max(activity.ends_at, utcnow()) + KEEP_AFTER_END - utcnow()).total_seconds()
    return state, int(ttl)


async def load(rt: Runtime, tenant: TenantInfo, activity_id: str, *, force: bool) -> bool:
    """Write the activity's keys from the database. Without ``force`` only when they are
    missing (a rebuild); with it always (preheat at the start, the end of the sale)."""
    stock = redis_stock(rt, tenant)
    if stock is None:
        return False
    state, ttl = await _read_state(rt, tenant.id, activity_id)
    return await stock.load(keys_for(tenant.id, activity_id), state, ttl_s=ttl, force=force)


async def rebuild(rt: Runtime, tenant: TenantInfo, activity_id: str) -> bool:
    """Rebuild lost keys from the database, one process at a time; the others wait for it
    (briefly: then the database alone decides their buy). True once the keys exist."""
    stock = redis_stock(rt, tenant)
    if stock is None:
        return False
    keys = keys_for(tenant.id, activity_id)
    if await stock.lock(keys):
        try:
            if await load(rt, tenant, activity_id, force=False):
                log.warning("flashsale: rebuilt the Redis keys of %s/%s", tenant.id, activity_id)
        finally:
            await stock.unlock(keys)
        return True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REBUILD_WAIT_S
    while loop.time() < deadline:
        await asyncio.sleep(0.02)
        if await stock.has_state(keys):
            return True
    return False


async def compare(rt: Runtime, tenant: TenantInfo, activity_id: str) -> dict[str, Any]:
    """Redis against the database for one activity: the differences, recorded by the
    caller. An empty ``stock`` and ``members`` means they agree."""
    stock = redis_stock(rt, tenant)
    found: dict[str, Any] = {"checked_at": utcnow().isoformat(), "stock": {}, "members": {}}
    if stock is None:
        found["mode"] = "database"
        return found
    state, _ = await _read_state(rt, tenant.id, activity_id)
    snapshot = await stock.snapshot(keys_for(tenant.id, activity_id))
    if snapshot is None:
        found["missing"] = True
        return found
    redis_stock_left, redis_members = snapshot
    for sku_id, db_left in state.stock.items():
        if redis_stock_left.get(sku_id) != db_left:
            found["stock"][sku_id] = {"redis": redis_stock_left.get(sku_id), "db": db_left}
    for member_id in set(state.members) | set(redis_members):
        db_count, redis_count = state.members.get(member_id, 0), redis_members.get(member_id, 0)
        if db_count != redis_count:
            found["members"][member_id] = {"redis": redis_count, "db": db_count}
    return found
