"""A campaign and the members it reaches.

The audience is snapshotted into ``campaign_recipients`` when the campaign is launched, one
row per member, ``pending``. The job then moves each row ``pending → issued`` (or
``skipped``, with the reason) with a conditional UPDATE in the same transaction that issues
the coupon, so a coupon exists exactly when its row says ``issued``: a job run twice, two
runs at once, or a run killed halfway never issues a member a second coupon.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantOwned, TenantScoped, tenant_fk, utcnow

# draft → running (launched: recipients snapshotted, the job issuing) → done
CAMPAIGN_STATES = ("draft", "running", "done")
RECIPIENT_STATES = ("pending", "issued", "skipped")


class Campaign(TenantScoped, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        tenant_fk(["template_id"], "coupon_templates"),
        Index("ix_campaigns_tenant_status", "tenant_id", "status"),
    )

    name: Mapped[str] = mapped_column(String(60))
    template_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    # {"kind": "segment", "segment": …} | {"kind": "tag", "tag": …} |
    # {"kind": "filter", "inactive_days": …, "spent_over": …}
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notify: Mapped[bool] = mapped_column(default=False)  # a subscribe message with the coupon
    status: Mapped[str] = mapped_column(String(16), default="draft")
    targeted: Mapped[int] = mapped_column(default=0)  # recipients snapshotted at launch
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    launched_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class CampaignRecipient(TenantOwned, Base):
    __tablename__ = "campaign_recipients"
    __table_args__ = (
        tenant_fk(["campaign_id"], "campaigns"),
        tenant_fk(["member_id"], "members"),
        tenant_fk(["coupon_id"], "member_coupons"),
        Index(
            "ix_campaign_recipients_tenant_campaign_status", "tenant_id", "campaign_id", "status"
        ),
    )

    campaign_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    coupon_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    reason: Mapped[str] = mapped_column(String(40), default="")  # why skipped: a problem code
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
