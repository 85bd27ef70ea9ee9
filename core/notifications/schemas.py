"""Request and response bodies of the notifications API: events and templates, the delivery
log (merchant), and subscriptions (storefront)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

TemplateId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9_-]{1,64}\Z",
        description="The WeChat subscribe-message template id (priTmplId)",
    ),
]
KeyName = Annotated[
    str, msgspec.Meta(pattern=r"^[a-z_]+[0-9]{1,3}\Z", description="A template key: thing1")
]
FieldName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}\Z")]
FixedText = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Page = Annotated[
    str,
    msgspec.Meta(
        max_length=300,
        pattern=r"^[^\s/][^\s]*\Z|^\Z",
        description="A page of the mini-program, {field} placeholders allowed",
    ),
]
Id = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Z]{26}\Z")]
TemplateKind = Literal["one_time", "long_term"]
Status = Literal["pending", "sending", "sent", "skipped", "failed"]


class EventFieldOut(msgspec.Struct, kw_only=True):
    name: str
    title: str
    kind: str
    example: str


class KeyMapping(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A template key filled from one of the event's fields, or with fixed text."""

    key: KeyName
    field: FieldName | None = None
    text: FixedText | None = None


class TemplateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    template_id: TemplateId
    keys: Annotated[list[KeyMapping], msgspec.Meta(min_length=1, max_length=20)]
    kind: TemplateKind = "one_time"
    # "" sends the event's default page.
    page: Page = ""
    miniprogram_state: Literal["formal", "trial", "developer"] = "formal"
    lang: Literal["zh_CN", "en_US", "zh_HK", "zh_TW"] = "zh_CN"
    enabled: bool = True


class TemplateOut(msgspec.Struct, kw_only=True):
    event: str
    template_id: str
    kind: str
    keys: list[KeyMapping]
    page: str
    miniprogram_state: str
    lang: str
    enabled: bool
    updated_at: datetime


class EventOut(msgspec.Struct, kw_only=True):
    name: str
    title: str
    description: str
    owner: str  # "core" or the plugin
    page: str
    fields: list[EventFieldOut]
    template: TemplateOut | None


class TestIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Send the event's example values to this member (the merchant's own member account)."""

    member_id: Id


class NotificationOut(msgspec.Struct, kw_only=True):
    id: str
    event: str
    member_id: str
    ref: str
    status: str
    reason: str
    errcode: int | None
    attempts: int
    values: dict[str, str]
    template_id: str
    page: str
    data: dict[str, dict[str, str]]
    next_attempt_at: datetime | None
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime


class EventCounts(msgspec.Struct, kw_only=True):
    event: str
    pending: int = 0
    sending: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0


class StatsOut(msgspec.Struct, kw_only=True):
    since: datetime | None
    until: datetime | None
    events: list[EventCounts]


# ---- storefront ----------------------------------------------------------------------------


class StoreTemplateOut(msgspec.Struct, kw_only=True):
    """What the mini-program asks ``wx.requestSubscribeMessage`` for, per event."""

    event: str
    title: str
    template_id: str
    kind: str


class SubscribeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What ``wx.requestSubscribeMessage`` answered, as it answered it: template id →
    ``accept`` | ``reject`` | ``ban`` | ``filter`` | ``acceptWithAudio`` (``errMsg`` may stay
    in; it is ignored)."""

    results: Annotated[
        dict[
            Annotated[str, msgspec.Meta(max_length=64)], Annotated[str, msgspec.Meta(max_length=40)]
        ],
        msgspec.Meta(max_length=20),
    ]


class SubscriptionOut(msgspec.Struct, kw_only=True):
    template_id: str
    events: list[str]
    remaining: int
    always: bool
    last_result: str
    updated_at: datetime


class SubscriptionsOut(msgspec.Struct, kw_only=True):
    items: list[SubscriptionOut]
    # Template ids in the request this store does not use: nothing was recorded for them.
    ignored: list[str] = []
