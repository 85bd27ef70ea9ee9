"""Always-on core behaviour, written as hookimpls so core and plugins share the same hooks."""

from __future__ import annotations

from core.hookspecs import hookimpl
from core.idempotency import purge_expired
from core.jobs import CronSpec, JobSpec


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [JobSpec(name="core.purge_idempotency_keys", function=purge_expired)]


@hookimpl
def register_cron() -> list[CronSpec]:
    return [CronSpec(job="core.purge_idempotency_keys", cron="17 * * * *")]
