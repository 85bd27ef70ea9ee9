"""Always-on hookimpls of the orders domain (registered as a core module): the unpaid-order
timer, its safety-net sweep and the auto-complete sweep."""

from __future__ import annotations

from typing import Any

from core.hookspecs import hookimpl
from core.jobs import CronSpec, JobSpec


async def _expire_unpaid(rt: Any, tenant_id: str, order_id: str) -> None:
    from core.orders.jobs import expire_unpaid

    await expire_unpaid(rt, tenant_id, order_id)


async def _sweep_unpaid(rt: Any) -> None:
    from core.orders.jobs import sweep_unpaid

    await sweep_unpaid(rt)


async def _auto_complete(rt: Any) -> None:
    from core.orders.jobs import auto_complete

    await auto_complete(rt)


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [
        JobSpec(name="orders.expire_unpaid", function=_expire_unpaid),
        JobSpec(name="orders.sweep_unpaid", function=_sweep_unpaid, retries=0, timeout_s=300),
        JobSpec(name="orders.auto_complete", function=_auto_complete, retries=0, timeout_s=600),
    ]


@hookimpl
def register_cron() -> list[CronSpec]:
    return [
        CronSpec(job="orders.sweep_unpaid", cron="* * * * *"),
        CronSpec(job="orders.auto_complete", cron="7 * * * *"),
    ]
