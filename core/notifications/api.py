"""HTTP routes of notifications.

Storefront (``/store/{tenant}/v1``): ``/notifications/templates`` (which template ids to ask
``wx.requestSubscribeMessage`` for) and ``/me/subscriptions`` (what the member answered).

Merchant (``/merchant/{tenant}/v1``): ``/notifications/events`` (the events and their
templates), ``/notifications/templates/{event}`` (map, unmap, send a test), and the delivery
log ``/notifications`` with ``/stats`` and ``/{id}/retry``. Clerks read; managers and owners
change templates and retry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, delete, get, post, put
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from core.api import Ctx, CurrentMember, Cursor, Limit
from core.catalog.schemas import ID_LIKE
from core.notifications import schemas as s
from core.notifications import service, subscriptions, templates
from core.paging import DEFAULT_LIMIT, Page

NotificationId = Annotated[str, PathParameter(pattern=ID_LIKE)]
EventName = Annotated[str, PathParameter(pattern=r"^[a-z][a-z0-9_.]{1,63}\Z")]
EventFilter = Annotated[str | None, QueryParameter(max_length=64)]
IdFilter = Annotated[str | None, QueryParameter(pattern=ID_LIKE)]
EventList = Annotated[str | None, QueryParameter(max_length=1000)]


class StoreTemplatesController(Controller):
    path = "/notifications/templates"
    tags = ["store"]

    @get("/")
    async def store_templates(self, ctx: Ctx, events: EventList = None) -> list[s.StoreTemplateOut]:
        """The template id of each event the store sends (``events=a,b`` for some); pass
        them to ``wx.requestSubscribeMessage`` (up to 3 at once) before the buyer pays."""
        wanted = [e for e in events.split(",") if e] if events else None
        return await subscriptions.store_templates(ctx, wanted)


class MySubscriptionsController(Controller):
    path = "/me/subscriptions"
    tags = ["store"]
    opt = {"member": True}

    @get("/")
    async def my_subscriptions(self, ctx: Ctx, member: CurrentMember) -> s.SubscriptionsOut:
        return await subscriptions.mine(ctx, member.id)

    @post("/", status_code=200)
    async def subscribe(
        self, ctx: Ctx, member: CurrentMember, data: JSONBody[s.SubscribeIn]
    ) -> s.SubscriptionsOut:
        """What ``wx.requestSubscribeMessage`` answered, as ``{"results": res}``: each
        ``accept`` adds one message of a one-time template (or allows a long-term one),
        ``reject`` turns a long-term one off, ``ban`` turns all off."""
        return await subscriptions.record(ctx, member.id, data)


class NotificationEventsController(Controller):
    path = "/notifications"
    tags = ["merchant"]

    @get("/events")
    async def list_events(self, ctx: Ctx) -> list[s.EventOut]:
        """The store's events (the core's and its plugins'), their fields and templates."""
        return await templates.list_events(ctx)

    @put("/templates/{event:str}")
    async def put_template(
        self, ctx: Ctx, event: EventName, data: JSONBody[s.TemplateIn]
    ) -> s.EventOut:
        """Map ``event`` to a WeChat template: each key from a field of the event, or text."""
        return await templates.put_template(ctx, event, data)

    @delete("/templates/{event:str}", status_code=204)
    async def delete_template(self, ctx: Ctx, event: EventName) -> None:
        """Unmap ``event``: its notices are recorded as ``skipped: no template``."""
        await templates.delete_template(ctx, event)

    @post("/templates/{event:str}/test", status_code=202)
    async def send_test(
        self, ctx: Ctx, event: EventName, data: JSONBody[s.TestIn]
    ) -> s.NotificationOut:
        """Send the event's example values to ``member_id`` (the merchant's own member
        account, subscribed from the mini-program). The notice is sent by the job like any
        other; follow it at ``/notifications/{id}``."""
        return await service.send_test(ctx, event, data.member_id)

    @get("/")
    async def list_notifications(
        self,
        ctx: Ctx,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: FromQuery[s.Status | None] = None,
        event: EventFilter = None,
        member_id: IdFilter = None,
        ref: IdFilter = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
    ) -> Page[s.NotificationOut]:
        """The delivery log, newest first: what was sent, skipped or failed, and why."""
        return await service.list_notifications(
            ctx,
            limit=limit,
            cursor=cursor,
            status=status,
            event=event,
            member_id=member_id,
            ref=ref,
            since=since,
            until=until,
        )

    @get("/stats")
    async def stats(
        self,
        ctx: Ctx,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
    ) -> s.StatsOut:
        """Per event, how many notices are in each status (created between since and until)."""
        return await service.stats(ctx, since, until)

    @get("/{notification_id:str}")
    async def get_notification(
        self, ctx: Ctx, notification_id: NotificationId
    ) -> s.NotificationOut:
        return await service.get_notification(ctx, notification_id)

    @post("/{notification_id:str}/retry", status_code=200)
    async def retry(self, ctx: Ctx, notification_id: NotificationId) -> s.NotificationOut:
        """Send a ``failed`` or ``skipped`` notice again (after fixing its template, say)."""
        return await service.retry(ctx, notification_id)


STORE_ROUTES: list[Any] = [StoreTemplatesController, MySubscriptionsController]
MERCHANT_ROUTES: list[Any] = [NotificationEventsController]
