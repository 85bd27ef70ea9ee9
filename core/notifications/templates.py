"""The merchant's templates: each event mapped to a WeChat subscribe-message template, and
each key of the template filled from one of the event's fields or with fixed text.

A template is checked against its event when it is saved: every key must be a WeChat keyword
type (``thing1``, ``time2``, ...), every field must be one the event offers, and the page may
only name the event's fields. What goes to WeChat is built from the notice's values when it
is sent (``message_data``), so a mapping fixed after a failure applies to a retry.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import delete, select

from core.auth import require_staff
from core.context import TenantContext
from core.db import utcnow
from core.errors import AppError, FieldError, NotFound
from core.notifications import schemas as s
from core.notifications.events import PLACEHOLDER, NotificationEvent, RegisteredEvent
from core.notifications.fields import fit, key_type
from core.notifications.models import NotificationTemplate


def tenant_event(ctx: TenantContext, event: str) -> RegisteredEvent:
    """An event of the core or of a plugin the tenant has on; 404 otherwise."""
    found = ctx.notification_events.get(event)
    if found is None or (found.owner != "core" and found.owner not in ctx.tenant.enabled_plugins):
        raise NotFound(f"no notification event {event!r}", code="notification.unknown_event")
    return found


def template_out(row: NotificationTemplate) -> s.TemplateOut:
    return s.TemplateOut(
        event=row.event,
        template_id=row.template_id,
        kind=row.kind,
        keys=[
            s.KeyMapping(key=k["key"], field=k.get("field"), text=k.get("text")) for k in row.keys
        ],
        page=row.page,
        miniprogram_state=row.miniprogram_state,
        lang=row.lang,
        enabled=row.enabled,
        updated_at=row.updated_at,
    )


def event_out(found: RegisteredEvent, template: NotificationTemplate | None) -> s.EventOut:
    event = found.event
    return s.EventOut(
        name=event.name,
        title=event.title,
        description=event.description,
        owner=found.owner,
        page=event.page,
        fields=[
            s.EventFieldOut(name=f.name, title=f.title, kind=f.kind, example=f.example)
            for f in event.fields
        ],
        template=template_out(template) if template is not None else None,
    )


async def list_events(ctx: TenantContext) -> list[s.EventOut]:
    """The tenant's events (the core's and its plugins'), each with its template if mapped."""
    require_staff(ctx, "clerk")
    rows = {row.event: row for row in (await ctx.session.scalars(select(NotificationTemplate)))}
    return [
        event_out(found, rows.get(found.event.name))
        for found in ctx.notification_events.for_tenant(ctx.tenant.enabled_plugins)
    ]


def _validate(event: NotificationEvent, data: s.TemplateIn) -> None:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, mapping in enumerate(data.keys):
        where = f"keys[{i}]"
        if key_type(mapping.key) is None:
            errors.append(FieldError(field=f"{where}.key", message="not a WeChat keyword type"))
        if mapping.key in seen:
            errors.append(FieldError(field=f"{where}.key", message="this key is mapped twice"))
        seen.add(mapping.key)
        if (mapping.field is None) == (mapping.text is None):
            errors.append(FieldError(field=where, message="give either field or text"))
        elif mapping.field is not None and event.field(mapping.field) is None:
            errors.append(
                FieldError(field=f"{where}.field", message=f"{event.name} has no such field")
            )
    for placeholder in PLACEHOLDER.findall(data.page):
        if event.field(placeholder) is None:
            errors.append(FieldError(field="page", message=f"no field {placeholder!r}"))
    if errors:
        raise AppError("the template does not fit the event", code="request.invalid", errors=errors)


async def put_template(ctx: TenantContext, event: str, data: s.TemplateIn) -> s.EventOut:
    require_staff(ctx, "manager")
    found = tenant_event(ctx, event)
    _validate(found.event, data)
    row = await ctx.session.get(NotificationTemplate, (ctx.tenant_id, event))
    if row is None:
        row = NotificationTemplate(event=event)
        ctx.session.add(row)
    row.template_id = data.template_id
    row.kind = data.kind
    row.keys = [
        {"key": m.key, "field": m.field} if m.field is not None else {"key": m.key, "text": m.text}
        for m in data.keys
    ]
    row.page = data.page
    row.miniprogram_state = data.miniprogram_state
    row.lang = data.lang
    row.enabled = data.enabled
    row.updated_at = utcnow()
    await ctx.session.flush()
    return event_out(found, row)


async def delete_template(ctx: TenantContext, event: str) -> None:
    require_staff(ctx, "manager")
    tenant_event(ctx, event)
    await ctx.session.execute(
        delete(NotificationTemplate)
        .where(NotificationTemplate.event == event)
        .execution_options(synchronize_session=False)
    )


# ---- building a message ---------------------------------------------------------------------


def message_data(
    template: NotificationTemplate, values: dict[str, str]
) -> dict[str, dict[str, str]]:
    """``{"thing1": {"value": ...}}``: each key from its field or text, fitted to its type."""
    data: dict[str, dict[str, str]] = {}
    for mapping in template.keys:
        key = str(mapping["key"])
        raw = mapping.get("text") if "text" in mapping else values.get(str(mapping.get("field")))
        data[key] = {"value": fit(key, str(raw or ""))}
    return data


def message_page(
    template: NotificationTemplate, event: NotificationEvent, values: dict[str, str]
) -> str:
    """The template's page, else the event's, with its ``{field}`` placeholders filled."""
    page = template.page or event.page
    return PLACEHOLDER.sub(lambda m: quote(values.get(m.group(1), ""), safe=""), page)


async def templates_by_id(
    ctx: TenantContext, template_ids: list[str]
) -> dict[str, list[NotificationTemplate]]:
    """The tenant's templates using these WeChat template ids (an id may serve two events)."""
    found: dict[str, list[NotificationTemplate]] = {}
    if not template_ids:
        return found
    rows = await ctx.session.scalars(
        select(NotificationTemplate).where(NotificationTemplate.template_id.in_(template_ids))
    )
    for row in rows:
        found.setdefault(row.template_id, []).append(row)
    return found
