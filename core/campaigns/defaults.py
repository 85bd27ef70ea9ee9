"""Always-on hookimpls of the campaigns (registered as the core module
"core.campaigns.defaults"): their jobs, and the subscribe message a campaign may send."""

from __future__ import annotations

from core.campaigns import jobs
from core.campaigns.service import COUPON_NOTICE
from core.hookspecs import hookimpl
from core.jobs import CronSpec, JobSpec
from core.notifications.events import NotificationEvent


@hookimpl
def register_jobs() -> list[JobSpec]:
    return list(jobs.JOBS)


@hookimpl
def register_cron() -> list[CronSpec]:
    return list(jobs.CRONS)


@hookimpl
def register_notification_events() -> list[NotificationEvent]:
    return [COUPON_NOTICE]
