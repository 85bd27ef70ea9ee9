"""Always-on hookimpls of the notifications domain (registered as a core module): the sender
job and its sweep, and the console's menu entries."""

from __future__ import annotations

from core.console.i18n import N_
from core.console.schemas import NavItem
from core.context import TenantInfo
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


@hookimpl
def console_nav(tenant: TenantInfo) -> list[NavItem]:
    return [
        NavItem(label=N_("Notifications"), path="notifications", role="clerk", section="service"),
        NavItem(
            label=N_("Message templates"),
            path="notifications/templates",
            role="manager",
            section="settings",
        ),
    ]
