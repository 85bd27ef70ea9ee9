"""Members' subscriptions: what ``wx.requestSubscribeMessage`` returned, and the quota a send
uses.

WeChat lets a mini-program message a user only with their consent, per template. A one-time
template allows one message per "allow" (the user may allow it several times and hold a
count); a long-term template, once allowed, allows messages until the user turns it off. The
storefront reports each answer here; the sender takes one message of the count with a
conditional UPDATE before it calls WeChat (so of two notices racing for the last one, one
is sent and the other skipped), and gives it back when WeChat did not deliver.
"""

from __future__ import annotations

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError

from core.context import TenantContext
from core.db import utcnow
from core.errors import AppError, FieldError
from core.notifications import schemas as s
from core.notifications.models import NotificationSubscription, NotificationTemplate
from core.notifications.templates import templates_by_id

# One-time messages a member can hold per template; WeChat is the judge past that anyway.
MAX_HELD = 50
ACCEPTED = frozenset({"accept", "acceptWithAudio"})
RESULTS = ACCEPTED | {"reject", "ban", "filter"}
Sub = NotificationSubscription


async def store_templates(ctx: TenantContext, events: list[str] | None) -> list[s.StoreTemplateOut]:
    """The template ids to ask ``wx.requestSubscribeMessage`` for, per event the store sends."""
    query = select(NotificationTemplate).where(NotificationTemplate.enabled.is_(True))
    if events:
        query = query.where(NotificationTemplate.event.in_(events))
    rows = (await ctx.session.scalars(query.order_by(NotificationTemplate.event))).all()
    out = []
    for row in rows:
        found = ctx.notification_events.get(row.event)
        if found is None or (
            found.owner != "core" and found.owner not in ctx.tenant.enabled_plugins
        ):
            continue
        out.append(
            s.StoreTemplateOut(
                event=row.event, title=found.event.title, template_id=row.template_id, kind=row.kind
            )
        )
    return out


def _check(results: dict[str, str]) -> dict[str, str]:
    answers = {k: v for k, v in results.items() if k != "errMsg"}
    errors = [
        FieldError(field=f"results.{k}", message=f"expected one of {sorted(RESULTS)}")
        for k, v in answers.items()
        if v not in RESULTS
    ]
    if errors:
        raise AppError("unknown subscription result", code="request.invalid", errors=errors)
    return answers


async def _ensure_row(ctx: TenantContext, member_id: str, template_id: str) -> None:
    exists = await ctx.session.scalar(
        select(Sub.template_id).where(Sub.member_id == member_id, Sub.template_id == template_id)
    )
    if exists is not None:
        return
    try:
        async with ctx.session.begin_nested():
            ctx.session.add(Sub(member_id=member_id, template_id=template_id))
    except IntegrityError:
        pass  # a concurrent report made it; the UPDATE below applies to it


async def record(ctx: TenantContext, member_id: str, data: s.SubscribeIn) -> s.SubscriptionsOut:
    """Apply what the member answered, per template this store uses; others are ignored."""
    answers = _check(data.results)
    known = await templates_by_id(ctx, list(answers))
    now = utcnow()
    for template_id, result in answers.items():
        rows = known.get(template_id)
        if not rows:
            continue
        long_term = any(row.kind == "long_term" for row in rows)
        await _ensure_row(ctx, member_id, template_id)
        values: dict[str, object] = {"last_result": result, "updated_at": now}
        if result in ACCEPTED:
            if long_term:
                values["always"] = True
            else:
                values["remaining"] = case(
                    (Sub.remaining >= MAX_HELD, MAX_HELD), else_=Sub.remaining + 1
                )
        elif result == "reject" and long_term:
            values["always"] = False
        elif result == "ban":  # the user turned this store's messages off
            values.update(remaining=0, always=False)
        await ctx.session.execute(
            update(Sub)
            .where(Sub.member_id == member_id, Sub.template_id == template_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    out = await mine(ctx, member_id, [t for t in answers if t in known])
    out.ignored = sorted(t for t in answers if t not in known)
    return out


async def mine(
    ctx: TenantContext, member_id: str, template_ids: list[str] | None = None
) -> s.SubscriptionsOut:
    query = select(Sub).where(Sub.member_id == member_id).execution_options(populate_existing=True)
    if template_ids is not None:
        query = query.where(Sub.template_id.in_(template_ids))
    rows = (await ctx.session.scalars(query.order_by(Sub.template_id))).all()
    events = await templates_by_id(ctx, [row.template_id for row in rows])
    return s.SubscriptionsOut(
        items=[
            s.SubscriptionOut(
                template_id=row.template_id,
                events=sorted(t.event for t in events.get(row.template_id, [])),
                remaining=row.remaining,
                always=row.always,
                last_result=row.last_result,
                updated_at=row.updated_at,
            )
            for row in rows
        ]
    )


# ---- the sender's side ------------------------------------------------------------------


async def take(ctx: TenantContext, member_id: str, template_id: str, kind: str) -> str | None:
    """Take one message of the member's consent: "always" for a long-term template allowed,
    "counted" when one of the one-time count was taken, None when there is none."""
    where = (Sub.member_id == member_id, Sub.template_id == template_id)
    if kind == "long_term":
        always = await ctx.session.scalar(select(Sub.always).where(*where))
        return "always" if always else None
    taken = await ctx.session.scalar(
        update(Sub)
        .where(*where, Sub.remaining > 0)
        .values(remaining=Sub.remaining - 1, updated_at=utcnow())
        .returning(Sub.remaining)
        .execution_options(synchronize_session=False)
    )
    return "counted" if taken is not None else None


async def give_back(ctx: TenantContext, member_id: str, template_id: str) -> None:
    """WeChat did not deliver the message the count was taken for."""
    await ctx.session.execute(
        update(Sub)
        .where(Sub.member_id == member_id, Sub.template_id == template_id)
        .values(
            remaining=case((Sub.remaining >= MAX_HELD, MAX_HELD), else_=Sub.remaining + 1),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


async def used_up(ctx: TenantContext, member_id: str, template_id: str) -> None:
    """WeChat says the member holds no consent for the template (43101): none is left."""
    await ctx.session.execute(
        update(Sub)
        .where(Sub.member_id == member_id, Sub.template_id == template_id)
        .values(remaining=0, always=False, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
