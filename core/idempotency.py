"""Idempotency keys for requests that move money or stock (orders, payments, refunds, ERP).

``Idempotency-Key`` is required. The first request claims the key in a short transaction of
its own, so a concurrent duplicate sees the claim at once and gets 409. The work then runs in
its own transaction, which also stores the response, so "done" and the effect commit together.
A replay returns the stored response (``Idempotent-Replayed: true``); the same key with another
payload is 422. A failed request releases its key, since its transaction changed nothing.
Keys live 24 hours; a claim left by a crashed process is taken over after ``STALE_CLAIM``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import msgspec
from litestar import Response
from litestar.openapi import ResponseSpec
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from core.context import Principal, TenantContext, TenantInfo
from core.db import utcnow
from core.errors import AppError, Conflict
from core.models import IdempotencyKey
from core.runtime import Runtime

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
STALE_CLAIM = timedelta(minutes=2)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

Work = Callable[[TenantContext], Awaitable[msgspec.Struct]]


def _replay(row: IdempotencyKey) -> Response[bytes]:
    return Response(
        content=row.response_body or b"",
        status_code=row.response_status or 200,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


async def _claim(
    rt: Runtime, tenant: TenantInfo, ident: dict[str, str], request_hash: str
) -> IdempotencyKey | None:
    """Claim the key, or return the finished row to replay. Raises 409/422 otherwise."""
    now = utcnow()
    for _ in range(2):
        try:
            async with rt.db.tenant_session(tenant.id) as session:
                row = await session.get(IdempotencyKey, (tenant.id, *ident.values()))
                if row is None:
                    session.add(
                        IdempotencyKey(
                            **ident,
                            request_hash=request_hash,
                            state="in_flight",
                            locked_at=now,
                            created_at=now,
                            expires_at=now + TTL,
                        )
                    )
                    return None
                if row.expires_at <= now:
                    await session.delete(row)
                    continue  # an expired key counts as unseen
                if row.request_hash != request_hash:
                    raise AppError(
                        "this Idempotency-Key was used with a different request",
                        code="idempotency.key_reused",
                        status=422,
                    )
                if row.state == "done":
                    return row
                if row.locked_at > now - STALE_CLAIM:
                    raise Conflict(
                        "a request with this Idempotency-Key is still in progress",
                        code="idempotency.in_flight",
                    )
                row.locked_at = now  # the claimant died; take over
                return None
        except IntegrityError:
            # A concurrent duplicate inserted the claim first.
            raise Conflict(
                "a request with this Idempotency-Key is still in progress",
                code="idempotency.in_flight",
            ) from None
    raise Conflict("could not claim the Idempotency-Key", code="idempotency.in_flight")


def answers(
    answer: type[msgspec.Struct], description: str, status_code: int = 201
) -> dict[int, ResponseSpec]:
    """The ``responses=`` of a route that returns ``run_idempotent``'s stored response: its
    handler is typed ``Any``, so the OpenAPI learns the answer's shape from here."""
    return {status_code: ResponseSpec(answer, description=description, generate_examples=False)}


async def run_idempotent(
    rt: Runtime,
    tenant: TenantInfo,
    principal: Principal,
    route: str,
    key: str | None,
    payload: Any,
    work: Work,
    status_code: int = 201,
) -> Response[bytes]:
    """Run ``work`` once per key, in one transaction that also stores its response."""

    async def in_one_transaction() -> msgspec.Struct:
        async with rt.tenant_context(tenant, principal) as ctx:
            result = await work(ctx)
            await _store(ctx, ident_of(principal, route, key), status_code, result)
        return result

    return await _run(rt, tenant, principal, route, key, payload, in_one_transaction, status_code)


async def run_idempotent_io(
    rt: Runtime,
    tenant: TenantInfo,
    principal: Principal,
    route: str,
    key: str | None,
    payload: Any,
    steps: Callable[[], Awaitable[msgspec.Struct]],
    status_code: int = 201,
) -> Response[bytes]:
    """Like ``run_idempotent`` for work that must call the network between transactions of
    its own (a payment provider's prepay): ``steps`` opens its own short transactions and
    must itself be safe to repeat; the response is stored once it returns."""

    async def then_store() -> msgspec.Struct:
        result = await steps()
        async with rt.tenant_context(tenant, principal) as ctx:
            await _store(ctx, ident_of(principal, route, key), status_code, result)
        return result

    return await _run(rt, tenant, principal, route, key, payload, then_store, status_code)


def ident_of(principal: Principal, route: str, key: str | None) -> dict[str, str]:
    return {"principal": f"{principal.kind}:{principal.id}", "route": route, "key": key or ""}


async def _store(
    ctx: TenantContext, ident: dict[str, str], status_code: int, result: msgspec.Struct
) -> None:
    row = await ctx.session.get(IdempotencyKey, (ctx.tenant_id, *ident.values()))
    assert row is not None  # claimed above and only deleted by expiry or _release
    row.state, row.response_status = "done", status_code
    row.response_body = msgspec.json.encode(result)


async def _run(
    rt: Runtime,
    tenant: TenantInfo,
    principal: Principal,
    route: str,
    key: str | None,
    payload: Any,
    run: Callable[[], Awaitable[msgspec.Struct]],
    status_code: int,
) -> Response[bytes]:
    if key is None or not _KEY.match(key):
        raise AppError(
            f"an {HEADER} header (1-255 visible characters) is required",
            code="idempotency.key_required",
        )
    ident = ident_of(principal, route, key)
    request_hash = hashlib.sha256(msgspec.json.encode(payload)).hexdigest()
    done = await _claim(rt, tenant, ident, request_hash)
    if done is not None:
        return _replay(done)
    try:
        result = await run()
    except BaseException:
        await _release(rt, tenant, ident)
        raise
    body = msgspec.json.encode(result)
    return Response(content=body, status_code=status_code, media_type="application/json")


async def _release(rt: Runtime, tenant: TenantInfo, ident: dict[str, str]) -> None:
    async with rt.db.tenant_session(tenant.id) as session:
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.principal == ident["principal"],
                IdempotencyKey.route == ident["route"],
                IdempotencyKey.key == ident["key"],
                IdempotencyKey.state == "in_flight",
            )
        )


async def purge_expired(rt: Runtime) -> int:
    """Job: drop expired keys, tenant by tenant (RLS stays on)."""
    purged = 0
    for tenant_id in await rt.tenants.ids():
        async with rt.db.tenant_session(tenant_id) as session:
            result = await session.execute(
                delete(IdempotencyKey).where(IdempotencyKey.expires_at <= utcnow())
            )
            purged += result.rowcount or 0  # type: ignore[attr-defined]
    return purged
