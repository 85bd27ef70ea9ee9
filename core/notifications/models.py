"""The notifications outbox, the merchant's templates and the members' subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantOwned, TenantScoped, tenant_fk, utcnow

# pending → sending → sent | skipped | failed, and sending → pending to try again later.
STATUSES = ("pending", "sending", "sent", "skipped", "failed")


class Notification(TenantScoped, Base):
    """One notice to one member, written in the transaction of the change that causes it."""

    __tablename__ = "notifications"
    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        # A notice recorded under a key (one per coupon and day, say) is recorded once.
        UniqueConstraint("tenant_id", "dedupe_key"),
        # The sweep: due pending notices and stale claims, per tenant.
        Index("ix_notifications_due", "tenant_id", "status", "next_attempt_at"),
        # The merchant's log, filtered by event or member, newest first.
        Index("ix_notifications_event", "tenant_id", "event", "id"),
        Index("ix_notifications_member", "tenant_id", "member_id", "id"),
        CheckConstraint("attempts >= 0", name="attempts"),
    )

    event: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    # What the notice is about (an order id), for the merchant's log; "" when nothing.
    ref: Mapped[str] = mapped_column(String(64), default="")
    dedupe_key: Mapped[str | None] = mapped_column(String(160), default=None)
    # The event's values as text, as recorded.
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # Why it was skipped or failed, or the last error of a pending retry.
    reason: Mapped[str] = mapped_column(String(300), default="")
    errcode: Mapped[int | None] = mapped_column(default=None)  # WeChat's, of the last attempt
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    # What the last attempt sent: the template, the page and the keyword data.
    template_id: Mapped[str] = mapped_column(String(64), default="")
    page: Mapped[str] = mapped_column(String(300), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationTemplate(TenantOwned, Base):
    """The merchant's WeChat template for one event, and which event field fills each key.

    ``keys`` is ``[{"key": "thing1", "field": "product"}, {"key": "thing4", "text": "…"}]``:
    each template key is filled from an event field or with fixed text."""

    __tablename__ = "notification_templates"
    __table_args__ = (Index("ix_notification_templates_template", "tenant_id", "template_id"),)

    event: Mapped[str] = mapped_column(String(64), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="one_time")  # one_time | long_term
    keys: Mapped[list[Any]] = mapped_column(default=list)
    page: Mapped[str] = mapped_column(String(300), default="")  # "" = the event's page
    miniprogram_state: Mapped[str] = mapped_column(String(16), default="formal")
    lang: Mapped[str] = mapped_column(String(8), default="zh_CN")
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationSubscription(TenantOwned, Base):
    """What a member allowed for one template: a count of one-time messages (each send uses
    one), or a long-term permission (``always``)."""

    __tablename__ = "notification_subscriptions"
    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        CheckConstraint("remaining >= 0", name="remaining"),
    )

    member_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    remaining: Mapped[int] = mapped_column(default=0)
    always: Mapped[bool] = mapped_column(default=False)
    last_result: Mapped[str] = mapped_column(String(16), default="")  # accept | reject | ban
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
