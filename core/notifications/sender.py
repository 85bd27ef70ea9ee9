"""The sender: the job that delivers one notice as a WeChat subscribe message.

Each attempt is three steps, and only the middle one touches the network:

1. **Claim** (a short transaction): ``UPDATE … SET status = 'sending', attempts = attempts +
   1 WHERE id = :id AND status = 'pending' AND next_attempt_at <= now``. Of two workers, or a
   job and its retry, one claims it and the other returns: a notice is never sent twice.
   The claim also settles what needs no WeChat: no template (``skipped``), no subscription
   (``skipped``; one message of a one-time count is taken here, by a conditional UPDATE).
2. **Send**: ``POST cgi-bin/message/subscribe/send`` with no transaction open.
3. **Settle** (a short transaction, conditional on the claim still being ours): WeChat's
   answer, by meaning:

   - 0: ``sent``;
   - 43101, the member holds no subscription: ``skipped``, not retried, their count is 0;
   - 40003 / 40037 / 47003 / 41030 and refused credentials: ``failed`` with the reason, for
     the merchant to fix (then retry);
   - 45009 (daily quota), -1 (busy), a timeout or anything else: tried again later, after
     30 s, 1, 2, 4 min…, and ``failed`` with the last reason after ``MAX_ATTEMPTS``.

   An invalid or expired access token (40001, 42001) is refreshed once inside the attempt
   (``core.wechat``). The count taken in step 1 is given back when WeChat did not deliver.

A claim whose worker died between steps 1 and 3 is found by the sweep after
``STALE_CLAIM`` and marked ``failed`` ("delivery unknown"): WeChat may have delivered it, so
it is not sent again by itself; the merchant sees it and may retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from core.context import Principal, TenantContext, TenantInfo
from core.db import utcnow
from core.errors import AppError
from core.members.models import Member
from core.notifications import subscriptions
from core.notifications.models import Notification, NotificationTemplate
from core.notifications.service import SEND_JOB, queue_send
from core.notifications.templates import message_data, message_page
from core.runtime import Runtime
from core.store.service import wechat_credentials
from core.wechat import BAD_CREDENTIALS, WeChat, WeChatError

log = logging.getLogger("storeplug.notifications")

SWEEP_JOB = "notifications.sweep"
MAX_ATTEMPTS = 5
RETRY_BASE_S = 30
RETRY_MAX_S = 3600
STALE_CLAIM = timedelta(minutes=10)
SWEEP_BATCH = 200

SKIP = {43101: "the member holds no subscription for this template"}
FAIL = {
    40003: "the member's openid does not belong to this mini-program",
    40037: "WeChat does not know this template id",
    47003: "the data does not fit the template",
    41030: "the page does not exist in the released mini-program",
    43104: "the member's openid does not belong to this mini-program",
    48001: "the mini-program may not send subscribe messages",
}
RETRY = {45009: "WeChat's daily quota for this mini-program is used up", -1: "WeChat is busy"}


@dataclass(frozen=True)
class Claim:
    id: str
    attempt: int
    member_id: str
    openid: str
    template_id: str
    consent: str  # "always" | "counted"
    page: str
    data: dict[str, dict[str, str]]
    miniprogram_state: str
    lang: str


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | skipped | failed | retry
    reason: str = ""
    errcode: int | None = None


def backoff_s(attempt: int) -> int:
    """Seconds before attempt ``attempt + 1``: 30, 60, 120, … up to an hour."""
    return int(min(RETRY_BASE_S * 2 ** max(attempt - 1, 0), RETRY_MAX_S))


def _principal(tenant: TenantInfo) -> Principal:
    return Principal(kind="job", id=SEND_JOB, tenant_id=tenant.id)


async def send(rt: Runtime, tenant_id: str, notification_id: str) -> str:
    """Job: deliver one notice if it is still waiting; its status afterwards."""
    tenant = await rt.tenants.by_id(tenant_id)
    if tenant is None:
        return ""
    return await deliver(rt, tenant, notification_id)


async def deliver(rt: Runtime, tenant: TenantInfo, notification_id: str) -> str:
    claim = await _claim(rt, tenant, notification_id)
    if isinstance(claim, str):
        return claim
    outcome = await _send(rt, tenant, claim)
    return await _settle(rt, tenant, claim, outcome)


def _finish(row: Notification, status: str, reason: str) -> str:
    row.status, row.reason, row.updated_at = status, reason[:300], utcnow()
    return status


async def _claim(rt: Runtime, tenant: TenantInfo, notification_id: str) -> Claim | str:
    async with rt.tenant_context(tenant, _principal(tenant)) as ctx:
        now = utcnow()
        attempt = await ctx.session.scalar(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.status == "pending",
                Notification.next_attempt_at <= now,
            )
            .values(
                status="sending",
                attempts=Notification.attempts + 1,
                claimed_at=now,
                updated_at=now,
            )
            .returning(Notification.attempts)
            .execution_options(synchronize_session=False)
        )
        if attempt is None:  # sent, settled or claimed by another worker; or not due yet
            status = await ctx.session.scalar(
                select(Notification.status).where(Notification.id == notification_id)
            )
            return status or ""
        row = await ctx.session.get(
            Notification, (tenant.id, notification_id), populate_existing=True
        )
        assert row is not None  # the UPDATE just found it
        return await _prepare(ctx, row, attempt)


async def _prepare(ctx: TenantContext, row: Notification, attempt: int) -> Claim | str:
    """Everything but WeChat: the template, the member, the consent, the message."""
    found = ctx.notification_events.get(row.event)
    if found is None:
        return _finish(row, "failed", "this event is no longer installed")
    template = await ctx.session.get(NotificationTemplate, (ctx.tenant_id, row.event))
    if template is None:
        return _finish(row, "skipped", "no template")
    if not template.enabled:
        return _finish(row, "skipped", "template switched off")
    openid = await ctx.session.scalar(select(Member.openid).where(Member.id == row.member_id))
    if not openid:
        return _finish(row, "skipped", "the member has no WeChat openid")
    consent = await subscriptions.take(ctx, row.member_id, template.template_id, template.kind)
    row.template_id = template.template_id
    row.page = message_page(template, found.event, row.values)
    row.data = message_data(template, row.values)
    if consent is None:
        return _finish(row, "skipped", "no subscription")
    return Claim(
        id=row.id,
        attempt=attempt,
        member_id=row.member_id,
        openid=openid,
        template_id=template.template_id,
        consent=consent,
        page=row.page,
        data=row.data,
        miniprogram_state=template.miniprogram_state,
        lang=template.lang,
    )


async def _send(rt: Runtime, tenant: TenantInfo, claim: Claim) -> Outcome:
    try:
        appid, secret = await wechat_credentials(rt, tenant.id)
    except AppError as exc:
        return Outcome("failed", exc.detail)
    try:
        async with WeChat.of(rt) as wx:
            answer = await wx.subscribe_send(
                appid,
                secret,
                touser=claim.openid,
                template_id=claim.template_id,
                data=claim.data,
                page=claim.page,
                miniprogram_state=claim.miniprogram_state,
                lang=claim.lang,
            )
    except WeChatError as exc:
        if exc.errcode in BAD_CREDENTIALS:
            return Outcome("failed", "WeChat rejected the store's AppID or AppSecret", exc.errcode)
        return Outcome("retry", exc.detail, exc.errcode)
    code, message = answer.errcode, answer.errmsg
    if code == 0:
        return Outcome("sent", errcode=0)
    if code in SKIP:
        return Outcome("skipped", f"{SKIP[code]} ({code})", code)
    if code in FAIL:
        return Outcome("failed", f"{FAIL[code]} ({code}: {message})", code)
    meaning = RETRY.get(code, "WeChat refused the message")
    return Outcome("retry", f"{meaning} ({code}: {message})", code)


async def _settle(rt: Runtime, tenant: TenantInfo, claim: Claim, outcome: Outcome) -> str:
    async with rt.tenant_context(tenant, _principal(tenant)) as ctx:
        now = utcnow()
        status, reason, delay = outcome.status, outcome.reason, 0
        if status == "retry":
            if claim.attempt >= MAX_ATTEMPTS:
                status, reason = "failed", f"gave up after {claim.attempt} attempts: {reason}"
            else:
                status, delay = "pending", backoff_s(claim.attempt)
        values: dict[str, object] = {
            "status": status,
            "reason": reason[:300],
            "errcode": outcome.errcode,
            "updated_at": now,
        }
        if status == "sent":
            values["sent_at"] = now
        if status == "pending":
            values["next_attempt_at"] = now + timedelta(seconds=delay)
        settled = await ctx.session.scalar(
            update(Notification)
            .where(
                Notification.id == claim.id,
                Notification.status == "sending",
                Notification.attempts == claim.attempt,
            )
            .values(**values)
            .returning(Notification.id)
            .execution_options(synchronize_session=False)
        )
        if settled is None:  # the sweep gave the claim up meanwhile
            log.warning("notification %s of %s: claim lost before settling", claim.id, tenant.id)
            return ""
        if outcome.status == "skipped":
            await subscriptions.used_up(ctx, claim.member_id, claim.template_id)
        elif outcome.status != "sent" and claim.consent == "counted":
            await subscriptions.give_back(ctx, claim.member_id, claim.template_id)
        if status == "pending":
            row = await ctx.session.get(Notification, (tenant.id, claim.id), populate_existing=True)
            assert row is not None
            await queue_send(ctx, row, delay)
        if status == "failed":
            log.warning("notification %s of %s failed: %s", claim.id, tenant.id, reason)
    return status


# ---- the sweep ------------------------------------------------------------------------------


async def sweep_tenant(rt: Runtime, tenant: TenantInfo) -> int:
    """Queue the tenant's due notices whose job was lost, and give up claims left by a
    worker that died mid-send; how many it acted on."""
    now = utcnow()
    async with rt.tenant_context(tenant, Principal(kind="job", id=SWEEP_JOB)) as ctx:
        stale = await ctx.session.execute(
            update(Notification)
            .where(
                Notification.status == "sending",
                Notification.claimed_at <= now - STALE_CLAIM,
            )
            .values(
                status="failed",
                reason="interrupted while sending; WeChat may or may not have delivered it",
                updated_at=now,
            )
            .returning(Notification.id)
            .execution_options(synchronize_session=False)
        )
        given_up = len(stale.all())
        # Due a while ago: the job queued at the commit (or for the retry) comes first.
        due = (
            await ctx.session.scalars(
                select(Notification)
                .where(
                    Notification.status == "pending",
                    Notification.next_attempt_at <= now - timedelta(seconds=RETRY_BASE_S),
                )
                .order_by(Notification.next_attempt_at)
                .limit(SWEEP_BATCH)
            )
        ).all()
        for row in due:
            await queue_send(ctx, row)
    return given_up + len(due)


async def sweep(rt: Runtime) -> int:
    """Cron: every tenant in turn (row-level security stays on)."""
    acted = 0
    for tenant_id in await rt.tenants.ids():
        tenant = await rt.tenants.by_id(tenant_id)
        if tenant is None:
            continue
        try:
            acted += await sweep_tenant(rt, tenant)
        except Exception:
            log.exception("notifications sweep: tenant %s failed", tenant_id)
    return acted
