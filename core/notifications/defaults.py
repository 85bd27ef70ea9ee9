"""Always-on hookimpls of the notifications domain (registered as a core module): the sender
job and its sweep."""

from __future__ import annotations

from core.hookspecs import hookimpl
from core.jobs import CronSpec, JobSpec
from core.notifications import sender
from core.notifications.service import SEND_JOB


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [
        # Retries here are for a database hiccup before the claim; a claimed notice is never
        # sent twice, whatever the queue does.
        JobSpec(name=SEND_JOB, function=sender.send, retries=2, timeout_s=60, retry_delay_s=5),
        JobSpec(name=sender.SWEEP_JOB, function=sender.sweep, retries=0, timeout_s=300),
    ]


@hookimpl
def register_cron() -> list[CronSpec]:
    return [CronSpec(job=sender.SWEEP_JOB, cron="* * * * *")]
