"""Recording notices, and the merchant's delivery log.

``notify`` is the one function the core and the plugins call to tell a buyer something. It
writes a row of the outbox in the caller's transaction, so a notice exists exactly when the
change that caused it committed, and queues the sender job for after the commit. Nothing is
sent from inside a request or a hook: the job does the network call
(``core.notifications.sender``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from core.auth import require_staff
from core.context import TenantContext
from core.db import utcnow
from core.errors import AppError, Conflict, NotFound
from core.members.models import Member
from core.notifications import schemas as s
from core.notifications.events import RegisteredEvent
from core.notifications.fields import as_text
from core.notifications.models import STATUSES, Notification, NotificationTemplate
from core.notifications.templates import tenant_event
from core.paging import Page, keyset_page_of, keyset_paged

SEND_JOB = "notifications.send"
TEST_REF = "test"  # the ref of the notices "send a test" makes
MAX_VALUE = 200  # characters of one stored value; WeChat's longest keyword takes 40


class UnknownNotificationEvent(LookupError):
    """``notify`` named an event nobody declared, or a field the event does not offer."""


def send_key(tenant_id: str, notification_id: str, attempt: int) -> str:
    """The sender job's key for one attempt: queueing an attempt twice is a no-op."""
    return f"{SEND_JOB}:{tenant_id}:{notification_id}:{attempt}"


async def queue_send(ctx: TenantContext, row: Notification, delay_s: float = 0.0) -> None:
    """The sender job for ``row``, sent once ``ctx`` commits."""
    kwargs = {"tenant_id": ctx.tenant_id, "notification_id": row.id}
    key = send_key(ctx.tenant_id, row.id, row.attempts)
    if delay_s > 0:
        await ctx.jobs.enqueue_in(delay_s, SEND_JOB, key=key, **kwargs)
    else:
        await ctx.jobs.enqueue(SEND_JOB, key=key, **kwargs)


def registered(ctx: TenantContext, event: str) -> RegisteredEvent:
    found = ctx.notification_events.get(event)
    if found is None:
        raise UnknownNotificationEvent(
            f"no notification event {event!r} is declared (register_notification_events)"
        )
    return found


def values_as_text(found: RegisteredEvent, values: Mapping[str, object]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for name, value in values.items():
        field = found.event.field(name)
        if field is None:
            raise UnknownNotificationEvent(f"event {found.event.name!r} has no field {name!r}")
        texts[name] = as_text(field.kind, value)[:MAX_VALUE]
    return texts


async def notify(
    ctx: TenantContext,
    event: str,
    *,
    member_id: str,
    values: Mapping[str, object],
    ref: str = "",
    key: str | None = None,
) -> Notification | None:
    """Record a notice of ``event`` to ``member_id`` in the caller's transaction.

    ``values`` are the event's fields (ints, text, aware datetimes; amounts in fen), written
    as text by each field's kind. ``ref`` names what the notice is about (an order id) in the
    merchant's log. ``key``, when given, makes the notice once-only for this tenant: a second
    ``notify`` with the same key records nothing and returns None (for sweeps that may see
    the same thing twice). A notice of an event the merchant has mapped to no template is
    recorded as ``skipped: no template``; the others are sent by a job after the commit.

    Raises ``UnknownNotificationEvent`` for an event nobody declared or a field it does not
    offer: a mistake in the caller's code, not the buyer's.
    """
    found = registered(ctx, event)
    row = await _record(ctx, found, member_id, values_as_text(found, values), ref, key)
    if row is not None and row.status == "pending":
        await queue_send(ctx, row)
    return row


async def _record(
    ctx: TenantContext,
    found: RegisteredEvent,
    member_id: str,
    texts: dict[str, str],
    ref: str,
    key: str | None,
) -> Notification | None:
    template = await ctx.session.get(NotificationTemplate, (ctx.tenant_id, found.event.name))
    status, reason = "pending", ""
    if template is None:
        status, reason = "skipped", "no template"
    elif not template.enabled:
        status, reason = "skipped", "template switched off"
    now = utcnow()
    row = Notification(
        event=found.event.name,
        member_id=member_id,
        ref=ref[:64],
        dedupe_key=key[:160] if key is not None else None,
        values=texts,
        status=status,
        reason=reason,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    if key is None:
        ctx.session.add(row)
        await ctx.session.flush()
        return row
    try:
        async with ctx.session.begin_nested():
            ctx.session.add(row)
    except IntegrityError:
        seen = await ctx.session.scalar(
            select(Notification.id).where(Notification.dedupe_key == row.dedupe_key)
        )
        if seen is None:
            raise  # not the key: a member of another tenant, say
        return None
    return row


async def send_test(ctx: TenantContext, event: str, member_id: str) -> s.NotificationOut:
    """The event with its example values, to ``member_id``: "send a test to me"."""
    require_staff(ctx, "manager")
    found = tenant_event(ctx, event)
    if await ctx.session.get(NotificationTemplate, (ctx.tenant_id, event)) is None:
        raise Conflict("map the event to a template first", code="notification.no_template")
    if await ctx.session.get(Member, (ctx.tenant_id, member_id)) is None:
        raise NotFound("no such member", code="member.not_found")
    examples = {f.name: f.example for f in found.event.fields}
    row = await _record(ctx, found, member_id, examples, TEST_REF, None)
    assert row is not None  # no key: always recorded
    if row.status == "pending":
        await queue_send(ctx, row)
    return notification_out(row)


# ---- the merchant's log ---------------------------------------------------------------------


def notification_out(row: Notification) -> s.NotificationOut:
    return s.NotificationOut(
        id=row.id,
        event=row.event,
        member_id=row.member_id,
        ref=row.ref,
        status=row.status,
        reason=row.reason,
        errcode=row.errcode,
        attempts=row.attempts,
        values=dict(row.values),
        template_id=row.template_id,
        page=row.page,
        data=dict(row.data),
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        sent_at=row.sent_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _utc(value: datetime | None) -> datetime | None:
    """A time from a query string; one without a zone is taken as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _range(
    since: datetime | None, until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    since, until = _utc(since), _utc(until)
    if since is not None and until is not None and since >= until:
        raise AppError("since must be before until", code="request.invalid")
    return since, until


async def list_notifications(
    ctx: TenantContext,
    *,
    limit: int,
    cursor: str | None,
    status: str | None = None,
    event: str | None = None,
    member_id: str | None = None,
    ref: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[s.NotificationOut]:
    """The delivery log, newest first, filtered."""
    require_staff(ctx, "clerk")
    since, until = _range(since, until)
    query = select(Notification)
    if status is not None:
        query = query.where(Notification.status == status)
    if event is not None:
        query = query.where(Notification.event == event)
    if member_id is not None:
        query = query.where(Notification.member_id == member_id)
    if ref is not None:
        query = query.where(Notification.ref == ref)
    if since is not None:
        query = query.where(Notification.created_at >= since)
    if until is not None:
        query = query.where(Notification.created_at < until)
    order = [(Notification.id, True)]
    rows = (await ctx.session.scalars(keyset_paged(query, order, limit, cursor, "log"))).all()
    return keyset_page_of(rows, limit, notification_out, lambda r: [r.id], "log")


async def get_notification(ctx: TenantContext, notification_id: str) -> s.NotificationOut:
    require_staff(ctx, "clerk")
    return notification_out(await _get(ctx, notification_id))


async def _get(ctx: TenantContext, notification_id: str) -> Notification:
    row = await ctx.session.get(Notification, (ctx.tenant_id, notification_id))
    if row is None:
        raise NotFound("no such notification", code="notification.not_found")
    return row


async def retry(ctx: TenantContext, notification_id: str) -> s.NotificationOut:
    """Send a failed or skipped notice again, with a fresh count of attempts."""
    require_staff(ctx, "manager")
    row = await _get(ctx, notification_id)
    now = utcnow()
    moved = await ctx.session.scalar(
        update(Notification)
        .where(Notification.id == row.id, Notification.status.in_(("failed", "skipped")))
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=now,
            reason="",
            errcode=None,
            claimed_at=None,
            updated_at=now,
        )
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    )
    if moved is None:
        raise Conflict(
            f"a {row.status} notification cannot be retried", code="notification.not_retryable"
        )
    await ctx.session.refresh(row)
    await queue_send(ctx, row)
    return notification_out(row)


async def stats(ctx: TenantContext, since: datetime | None, until: datetime | None) -> s.StatsOut:
    """How many notices of each event are in each status (created in the range)."""
    require_staff(ctx, "clerk")
    since, until = _range(since, until)
    query = select(Notification.event, Notification.status, func.count()).group_by(
        Notification.event, Notification.status
    )
    if since is not None:
        query = query.where(Notification.created_at >= since)
    if until is not None:
        query = query.where(Notification.created_at < until)
    counts: dict[str, s.EventCounts] = {
        r.event.name: s.EventCounts(event=r.event.name)
        for r in ctx.notification_events.for_tenant(ctx.tenant.enabled_plugins)
    }
    for event, status, count in (await ctx.session.execute(query)).all():
        entry = counts.setdefault(event, s.EventCounts(event=event))
        if status in STATUSES:
            setattr(entry, status, int(count))
    return s.StatsOut(since=since, until=until, events=list(counts.values()))
