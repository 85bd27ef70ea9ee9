"""A small feature plugin used by the tests: routes on two surfaces, a table with its own
migration branch, a job, settings with validation, and lifecycle hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import JSONBody
from sqlalchemy import func, select

from core.api import Caller, Ctx, Tenant, runtime_of
from core.context import TenantContext
from core.hookspecs import hookimpl
from core.idempotency import HEADER, run_idempotent
from core.jobs import JobSpec
from core.plugins import PluginMeta
from tests.plugins.echo.models import EchoCharge


class EchoSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    greeting: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] = "hello"
    max_items: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3


META = PluginMeta(
    name="echo",
    title="Echo",
    description="Test plugin that greets and records charges.",
    version="1.0.0",
    settings=EchoSettings,
    migrations=str(Path(__file__).parent / "migrations"),
)

# What the lifecycle and job hooks saw, for the tests to read.
EVENTS: list[tuple[str, str, Any]] = []


class ChargeIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: Annotated[int, msgspec.Meta(gt=0)]
    note: Annotated[str, msgspec.Meta(max_length=100)] = ""  # the column's length


class ChargeOut(msgspec.Struct):
    id: str
    amount: int
    total_charges: int


@get("/echo/hello")
async def hello(tenant: Tenant, ctx: Ctx) -> dict[str, str]:
    settings = msgspec.convert(tenant.plugin_configs.get("echo", {}), EchoSettings)
    return {"greeting": settings.greeting, "tenant": tenant.slug}


@post("/echo/charges")
async def charge(
    request: Request[Any, Any, Any], tenant: Tenant, principal: Caller, data: JSONBody[ChargeIn]
) -> Any:
    # ``principal``, not ``ctx``: run_idempotent runs its own transactions.
    async def work(tx: TenantContext) -> ChargeOut:
        row = EchoCharge(amount=data.amount, note=data.note)
        tx.session.add(row)
        await tx.session.flush()
        total = await tx.session.scalar(select(func.count()).select_from(EchoCharge))
        return ChargeOut(id=row.id, amount=row.amount, total_charges=total or 0)

    return await run_idempotent(
        runtime_of(request),
        tenant,
        principal,
        "POST /echo/charges",
        request.headers.get(HEADER),
        data,
        work,
    )


@get("/echo/charges")
async def count_charges(ctx: Ctx) -> dict[str, int]:
    total = await ctx.session.scalar(select(func.count()).select_from(EchoCharge))
    return {"total_charges": total or 0}


async def record(ctx: Any, tenant_id: str, note: str) -> None:
    EVENTS.append(("job", tenant_id, note))


@hookimpl
def register_routes(surface: str) -> list[Any]:
    return {"store": [hello], "merchant": [charge, count_charges]}.get(surface, [])


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [JobSpec(name="echo.record", function=record, retries=0)]


@hookimpl
async def plugin_enabled(ctx: TenantContext, plugin: str, config: Any) -> None:
    EVENTS.append(("enabled", ctx.tenant_id, plugin))


@hookimpl
async def plugin_disabled(ctx: TenantContext, plugin: str) -> None:
    EVENTS.append(("disabled", ctx.tenant_id, plugin))
