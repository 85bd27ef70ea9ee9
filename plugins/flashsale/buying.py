"""``POST /store/{tenant}/v1/flashsale/{activity}/buy``: from a tap to a pending order.

On Redis (the gate):

1. Rate limits (member and IP), then the ``TAKE`` script: it checks the window, the
   member's count against the limit and the stock, and takes both, keyed by a token made of
   the member and the Idempotency-Key. Sold out, not started, ended, over the limit: answered
   here, with two Redis round trips and no database query.
2. Only the winners go on: ``run_idempotent`` claims the key, ``place_order`` writes the
   order at the flash price with the short payment window, and ``order_before_place`` takes
   the unit in the database with its own conditional UPDATEs (the truth, and the guard if
   Redis was ever wrong).
3. If that fails, or the key turns out to be a replay of an earlier buy, the unit this
   request took goes back (once: the token's HDEL). When the database itself refused ("sold
   out", "over the limit"), Redis was behind the truth (keys rebuilt while buys were in
   flight) and keeps that part taken. A retry whose token still holds a unit ("held") uses
   that unit and never gives it back.

If the activity's keys are missing (a restart, a flush), the first request rebuilds them from
the database; one that cannot wait for that goes the database-only way. In the database-only
mode a read answers the refusals and the conditional UPDATEs decide; buys of one activity are
let into the database a few at a time per process (``ADMISSION``), the rest wait in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from litestar import Response
from sqlalchemy import select

from core.admission import gate
from core.context import Principal, TenantContext, TenantInfo
from core.db import utcnow
from core.errors import AppError
from core.idempotency import ident_of, run_idempotent
from core.models import IdempotencyKey
from core.orders import placement
from core.orders import schemas as orders
from core.runtime import Runtime
from plugins.flashsale import db_stock, errors, preheat, ratelimit
from plugins.flashsale import schemas as s
from plugins.flashsale.hooks import EXTRA, PREFIX, Reservation
from plugins.flashsale.redis_stock import RedisStock, keys_for

PASSING = frozenset({"ok", "held", "replay", "missing"})
# At most this many buys of one activity write to the database at a time per process; the
# others wait here, in memory, not on a pooled connection. In the database-only mode most of
# them then learn "sold out" from one read instead of claiming a key, pricing an order and
# rolling it back; behind the Redis gate only the winners ever get here.
ADMISSION = 8


def _admission(tenant_id: str, activity_id: str) -> asyncio.Semaphore:
    return gate(("flashsale", tenant_id, activity_id), ADMISSION)


def route_of(activity_id: str) -> str:
    return f"POST /flashsale/{activity_id}/buy"


def token_of(member_id: str, key: str) -> str:
    """The reservation token: one per member and Idempotency-Key (a retry finds its hold)."""
    return hashlib.sha256(f"{member_id}\x00{key}".encode()).hexdigest()[:40]


def _refuse(verdict: str) -> None:
    if verdict not in PASSING:
        raise errors.VERDICT_ERRORS[verdict]()


async def _take(
    rt: Runtime,
    tenant: TenantInfo,
    stock: RedisStock,
    activity_id: str,
    args: tuple[str, str, int, int, str],
) -> str:
    keys = keys_for(tenant.id, activity_id)
    verdict = await stock.take(keys, *args)
    if verdict == "missing" and await preheat.rebuild(rt, tenant, activity_id):
        verdict = await stock.take(keys, *args)
    return verdict


async def _db_check(
    rt: Runtime, tenant: TenantInfo, member: Principal, activity_id: str, data: s.BuyIn, key: str
) -> str:
    """One read: a retried buy (its key already stored) is replayed, else the precheck."""
    ident = ident_of(member, route_of(activity_id), key)
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, tenant.id)
        stored = await session.scalar(
            select(IdempotencyKey.key).where(
                IdempotencyKey.principal == ident["principal"],
                IdempotencyKey.route == ident["route"],
                IdempotencyKey.key == ident["key"],
            )
        )
        if stored is not None:
            return "replay"
        return await db_stock.precheck(session, activity_id, data.sku_id, member.id, data.quantity)


async def buy(
    rt: Runtime,
    tenant: TenantInfo,
    member: Principal,
    activity_id: str,
    data: s.BuyIn,
    key: str | None,
    client_ip: str,
) -> Response[Any]:
    settings = preheat.settings_of(tenant)
    await ratelimit.check(rt.redis, tenant.id, member.id, client_ip, settings)
    stock = preheat.redis_stock(rt, tenant)
    token = token_of(member.id, key or "")
    now_ms = int(utcnow().timestamp() * 1000)
    verdict = "missing"
    if stock is not None and key:  # without a key, run_idempotent refuses the buy
        verdict = await _take(
            rt, tenant, stock, activity_id, (data.sku_id, member.id, data.quantity, now_ms, token)
        )
        _refuse(verdict)
    if verdict == "missing":  # the database-only mode, or keys that could not be rebuilt
        async with _admission(tenant.id, activity_id):
            if key:
                _refuse(await _db_check(rt, tenant, member, activity_id, data, key))
            return await _place(rt, tenant, member, activity_id, data, key, token)
    assert stock is not None
    keys = keys_for(tenant.id, activity_id)
    try:
        async with _admission(tenant.id, activity_id):
            response = await _place(rt, tenant, member, activity_id, data, key, token)
    except BaseException as exc:
        if verdict == "ok":
            sold_out = isinstance(exc, errors.SoldOut) and exc.from_database
            over_limit = isinstance(exc, AppError) and exc.code == errors.LIMIT_EXCEEDED
            await stock.release(
                keys, token, return_stock=not sold_out, return_member=not over_limit
            )
        raise
    if verdict == "ok" and response.headers.get("Idempotent-Replayed"):
        await stock.release(keys, token)  # the key's order came from an earlier take
    return response


async def _place(
    rt: Runtime,
    tenant: TenantInfo,
    member: Principal,
    activity_id: str,
    data: s.BuyIn,
    key: str | None,
    token: str,
) -> Response[Any]:
    async def work(tx: TenantContext) -> s.BuyOut:
        tx.extras[EXTRA] = Reservation(
            activity_id=activity_id, sku_id=data.sku_id, quantity=data.quantity, token=token
        )
        order = await placement.place_order(
            tx,
            orders.PlaceOrderIn(
                items=[
                    orders.OrderItemIn(
                        sku_id=data.sku_id,
                        quantity=data.quantity,
                        activity=PREFIX + activity_id,
                    )
                ],
                fulfillment=data.fulfillment,
                fulfillment_data=data.fulfillment_data,
                note=data.note,
            ),
        )
        return s.BuyOut(
            status=order.status,
            order_id=order.id,
            number=order.number,
            activity_id=activity_id,
            sku_id=data.sku_id,
            quantity=data.quantity,
            payable=order.payable,
            payment_deadline=order.payment_deadline,
        )

    return await run_idempotent(
        rt, tenant, member, route_of(activity_id), key, data, work, status_code=201
    )
