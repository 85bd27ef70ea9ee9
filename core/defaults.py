"""Always-on core behaviour, written as hookimpls so core and plugins share the same hooks."""

from __future__ import annotations

from typing import Any

from core.hookspecs import hookimpl
from core.jobs import CronSpec, JobSpec


async def _purge_idempotency_keys(ctx: Any) -> int:
    from core.idempotency import purge_expired

    return await purge_expired(ctx)


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [JobSpec(name="core.purge_idempotency_keys", function=_purge_idempotency_keys)]


@hookimpl
def register_cron() -> list[CronSpec]:
    return [CronSpec(job="core.purge_idempotency_keys", cron="17 * * * *")]
