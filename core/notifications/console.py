"""The notifications pages of the merchant console: the delivery log (per-event counts, each
notice and why it was not sent, retry) and the message templates (map an event to a WeChat
template, send a test).

Thin controllers over ``core.notifications.service`` and ``templates``, the functions the
JSON API calls. The one thing of its own is the way a template's keys are typed: one line per
key, ``thing1 = product`` for an event field or ``thing4 = "请尽快到店"`` for fixed text.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

import msgspec
from litestar import Response, get, post
from litestar.params import FromQuery

from core.api import AnyRequest, Ctx, Cursor
from core.auth import require_staff
from core.console.forms import Form, read_form
from core.console.i18n import N_
from core.console.web import page, redirect
from core.context import TenantContext
from core.db import utcnow
from core.errors import AppError, FieldError
from core.notifications import schemas as s
from core.notifications import service, templates
from core.notifications.api import EventFilter, EventName, NotificationId
from core.notifications.models import STATUSES, NotificationTemplate

PAGE_SIZE = 50
COUNT_DAYS = 7
KEY_LINE = re.compile(r"^\s*([a-z_]+[0-9]{1,3})\s*[=:：]\s*(.*?)\s*$")
QUOTES = {'"': '"', "“": "”", "'": "'"}
BAD_LINE = N_('Line %(n)s: write key = field, or key = "fixed text".')
BAD_KEY = N_("Line %(n)s: %(problem)s")
NOT_RETRYABLE = N_("Only a failed or skipped notice can be sent again.")
RETRIED = N_("Queued to be sent again.")


class TemplateForm(msgspec.Struct, kw_only=True):
    """The template form; ``keys`` is one line per template key."""

    template_id: s.TemplateId
    keys: list[str]
    kind: s.TemplateKind = "one_time"
    page: s.Page = ""
    miniprogram_state: Literal["formal", "trial", "developer"] = "formal"
    lang: Literal["zh_CN", "en_US", "zh_HK", "zh_TW"] = "zh_CN"
    enabled: bool = True


class TestForm(msgspec.Struct, kw_only=True):
    member_id: s.Id


def key_lines(keys: list[dict[str, Any]]) -> str:
    """A template's keys as the form shows them."""
    return "\n".join(
        f'{k["key"]} = "{k["text"]}"' if "text" in k else f"{k['key']} = {k.get('field', '')}"
        for k in keys
    )


def parse_keys(lines: list[str]) -> list[dict[str, str]]:
    """The form's lines as the API's key mappings; AppError on the ``keys`` field naming the
    line that is not ``key = field`` or ``key = "text"``."""
    mappings = []
    for n, line in enumerate(lines, 1):
        match = KEY_LINE.match(line)
        value = match.group(2) if match else ""
        if match is None or not value:
            raise _keys_error(BAD_LINE, n=n)
        key = match.group(1)
        closing = QUOTES.get(value[0])
        if closing is not None and len(value) >= 2 and value.endswith(closing):
            mappings.append({"key": key, "text": value[1:-1]})
        else:
            mappings.append({"key": key, "field": value})
    return mappings


class _KeysError(AppError):
    def __init__(self, message: str, params: dict[str, Any]) -> None:
        super().__init__(message, code="request.invalid")
        self.message, self.params = message, params


def _keys_error(message: str, **params: Any) -> _KeysError:
    return _KeysError(message, params)


_KEY_INDEX = re.compile(r"^keys\[(\d+)\]")


def _show(form: Form[Any], exc: AppError) -> None:
    """A refusal of the service on the form: ``keys[i]…`` errors on the keys box by line."""
    if isinstance(exc, _KeysError):
        form.errors["keys"] = (exc.message, exc.params)
        form.data = None
        return
    for item in exc.errors:
        found = _KEY_INDEX.match(item.field)
        if found is not None:
            form.errors["keys"] = (BAD_KEY, {"n": int(found.group(1)) + 1, "problem": item.message})
    others = [e for e in exc.errors if not _KEY_INDEX.match(e.field)]
    if others or not exc.errors:
        form.fail(AppError(exc.detail, code=exc.code, errors=others))
    form.data = None


# ---- the delivery log ------------------------------------------------------------------------


def _titles(ctx: TenantContext) -> dict[str, str]:
    return {name: found.event.title for name, found in ctx.notification_events.items()}


@get("/notifications", include_in_schema=False)
async def log_page(
    request: AnyRequest,
    ctx: Ctx,
    status: FromQuery[s.Status | None] = None,
    event: EventFilter = None,
    cursor: Cursor = None,
) -> Response[str]:
    listed = await service.list_notifications(
        ctx, limit=PAGE_SIZE, cursor=cursor, status=status, event=event or None
    )
    counts = await service.stats(ctx, utcnow() - timedelta(days=COUNT_DAYS), None)
    return page(
        request,
        "notifications/log.html",
        items=listed.items,
        next_cursor=listed.next_cursor,
        counts=counts.events,
        count_days=COUNT_DAYS,
        titles=_titles(ctx),
        statuses=STATUSES,
        current_status=status or "",
        current_event=event or "",
    )


async def _detail(
    request: AnyRequest, ctx: TenantContext, notification_id: str, form: Form[Any] | None = None
) -> Response[str]:
    notice = await service.get_notification(ctx, notification_id)
    form = form or Form(values={})
    return page(
        request,
        "notifications/detail.html",
        status=422 if form.message else 200,
        notice=notice,
        title=_titles(ctx).get(notice.event, notice.event),
        form=form,
    )


@get("/notifications/{notification_id:str}", include_in_schema=False)
async def detail_page(
    request: AnyRequest, ctx: Ctx, notification_id: NotificationId, retried: FromQuery[bool] = False
) -> Response[str]:
    form: Form[Any] = Form(values={})
    if retried:
        form.notice = (RETRIED, {})
    return await _detail(request, ctx, notification_id, form)


@post("/notifications/{notification_id:str}/retry", include_in_schema=False)
async def retry(request: AnyRequest, ctx: Ctx, notification_id: NotificationId) -> Any:
    require_staff(ctx, "manager")  # above the role: the console's 403 page, not a form error
    form: Form[Any] = Form(values={})
    try:
        async with ctx.savepoint():
            await service.retry(ctx, notification_id)
    except AppError as exc:
        form.fail(exc, texts={"notification.not_retryable": NOT_RETRYABLE})
        return await _detail(request, ctx, notification_id, form)
    return redirect(request, f"notifications/{notification_id}?retried=1")


# ---- templates -------------------------------------------------------------------------------


@get("/notifications/templates", include_in_schema=False)
async def templates_page(request: AnyRequest, ctx: Ctx) -> Response[str]:
    require_staff(ctx, "manager")
    return page(request, "notifications/templates.html", events=await templates.list_events(ctx))


def _form_values(row: NotificationTemplate | None) -> dict[str, Any]:
    """What the form shows: the saved template, or the defaults of a new one."""
    if row is None:
        return {"template_id": "", "keys": "", "kind": "one_time", "page": "", "enabled": True}
    return {
        "template_id": row.template_id,
        "keys": key_lines(row.keys),
        "kind": row.kind,
        "page": row.page,
        "miniprogram_state": row.miniprogram_state,
        "lang": row.lang,
        "enabled": row.enabled,
    }


async def _template_page(
    request: AnyRequest,
    ctx: TenantContext,
    event: str,
    form: Form[Any] | None = None,
    test_form: Form[Any] | None = None,
    status: int = 200,
    notice: str | None = None,
) -> Response[str]:
    found = templates.tenant_event(ctx, event)
    row = await ctx.session.get(NotificationTemplate, (ctx.tenant_id, event))
    if form is None:
        form = Form(values=_form_values(row))
        if notice is not None:
            form.notice = (notice, {})
    elif isinstance(form.values.get("keys"), list):
        form.values["keys"] = "\n".join(form.values["keys"])
    return page(
        request,
        "notifications/template.html",
        status=status,
        event=templates.event_out(found, row),
        mapped=row is not None,
        form=form,
        test_form=test_form or Form(values={}),
    )


@get("/notifications/templates/{event:str}", include_in_schema=False)
async def template_page(
    request: AnyRequest, ctx: Ctx, event: EventName, saved: FromQuery[bool] = False
) -> Response[str]:
    require_staff(ctx, "manager")
    return await _template_page(request, ctx, event, notice=N_("Saved.") if saved else None)


@post("/notifications/templates/{event:str}", include_in_schema=False)
async def save_template(request: AnyRequest, ctx: Ctx, event: EventName) -> Any:
    require_staff(ctx, "manager")
    templates.tenant_event(ctx, event)
    form = await read_form(request, TemplateForm)
    if form.ok and form.data is not None:
        try:
            data = msgspec.convert(
                {**msgspec.structs.asdict(form.data), "keys": parse_keys(form.data.keys)},
                s.TemplateIn,
            )
            async with ctx.savepoint():
                await templates.put_template(ctx, event, data)
        except msgspec.ValidationError as exc:
            field = FieldError(field=_field_of(str(exc)), message=str(exc))
            _show(form, AppError(str(exc), code="request.invalid", errors=[field]))
        except AppError as exc:
            _show(form, exc)
        else:
            return redirect(request, f"notifications/templates/{event}?saved=1")
    return await _template_page(request, ctx, event, form=form, status=422)


def _field_of(message: str) -> str:
    """``$.keys[2].key`` in a msgspec message as ``keys[2].key``."""
    found = re.search(r"`\$\.([^`]+)`", message)
    return found.group(1) if found else "keys"


@post("/notifications/templates/{event:str}/delete", include_in_schema=False)
async def delete_template(request: AnyRequest, ctx: Ctx, event: EventName) -> Any:
    await templates.delete_template(ctx, event)
    return redirect(request, "notifications/templates")


@post("/notifications/templates/{event:str}/test", include_in_schema=False)
async def send_test(request: AnyRequest, ctx: Ctx, event: EventName) -> Any:
    require_staff(ctx, "manager")
    test_form = await read_form(request, TestForm)
    if test_form.ok and test_form.data is not None:
        try:
            async with ctx.savepoint():
                sent = await service.send_test(ctx, event, test_form.data.member_id)
        except AppError as exc:
            test_form.fail(
                exc,
                texts={
                    "member.not_found": N_("No member of this store has that id."),
                    "notification.no_template": N_("Save a template for this notice first."),
                },
            )
        else:
            return redirect(request, f"notifications/{sent.id}")
    return await _template_page(request, ctx, event, test_form=test_form, status=422)


CONSOLE_ROUTES = [
    log_page,
    templates_page,
    template_page,
    save_template,
    delete_template,
    send_test,
    detail_page,
    retry,
]
