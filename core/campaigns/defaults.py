"""Always-on hookimpls of the campaigns (registered as the core module
"core.campaigns.defaults"): their jobs."""

from __future__ import annotations

from core.campaigns import jobs
from core.hookspecs import hookimpl
from core.jobs import CronSpec, JobSpec


@hookimpl
def register_jobs() -> list[JobSpec]:
    return list(jobs.JOBS)


@hookimpl
def register_cron() -> list[CronSpec]:
    return list(jobs.CRONS)
