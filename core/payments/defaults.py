"""Always-on hookimpls of the payments domain (registered as the core module
"core.payments.defaults"): the sandbox and WeChat Pay providers, and the payment and refund
jobs."""

from __future__ import annotations

from core.hookspecs import hookimpl
from core.jobs import CronSpec, JobSpec
from core.notifications.events import NotificationEvent
from core.payments import jobs as payment_jobs
from core.payments import notices, refund_jobs
from core.payments.providers import PaymentProvider
from core.payments.sandbox import SandboxProvider
from core.payments.wechatpay_provider import WeChatPayProvider


@hookimpl
def register_payment_providers() -> list[PaymentProvider]:
    return [SandboxProvider(), WeChatPayProvider()]


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [*payment_jobs.JOBS, *refund_jobs.JOBS]


@hookimpl
def register_cron() -> list[CronSpec]:
    return [*payment_jobs.CRONS, *refund_jobs.CRONS]


@hookimpl
def register_notification_events() -> list[NotificationEvent]:
    return notices.EVENTS
