"""Request and response bodies of the campaigns API. Money is integer fen."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from core.analytics.schemas import Segment

_CTRL = r"\x00-\x1f\x7f"
Name = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=60, pattern=rf"^[^{_CTRL}]*[^\s{_CTRL}][^{_CTRL}]*\Z"),
]
Id = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Z]{26}\Z")]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
Days = Annotated[int, msgspec.Meta(ge=1, le=3650)]
Fen = Annotated[int, msgspec.Meta(ge=0, le=10_000_000_000)]
CampaignStatus = Literal["draft", "running", "done"]
RecipientStatus = Literal["pending", "issued", "skipped"]


class SegmentAudience(msgspec.Struct, tag="segment", tag_field="kind", forbid_unknown_fields=True):
    """The members of an RFM segment, as of its last computation."""

    segment: Segment


class TagAudience(msgspec.Struct, tag="tag", tag_field="kind", forbid_unknown_fields=True):
    tag: Tag


class FilterAudience(msgspec.Struct, tag="filter", tag_field="kind", forbid_unknown_fields=True):
    """Buyers whose last purchase is more than ``inactive_days`` old and/or who spent more
    than ``spent_over`` fen (net of refunds), counted when the campaign is launched."""

    inactive_days: Days | None = None
    spent_over: Fen | None = None


Audience = SegmentAudience | TagAudience | FilterAudience


class CampaignIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    template_id: Id
    audience: Audience
    notify: bool = False


class AudienceIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    audience: Audience


class AudienceSize(msgspec.Struct, kw_only=True):
    members: int


class Results(msgspec.Struct, kw_only=True):
    targeted: int
    pending: int
    issued: int  # coupons in members' hands (claimed)
    skipped: dict[str, int]  # by reason: coupon.limit_reached, coupon.sold_out, …
    used: int  # of them, used on a paid order
    gmv: int  # what those orders paid
    refunded: int  # of it, refunded since


class CampaignOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    template_id: str
    audience: Audience
    notify: bool
    status: CampaignStatus
    created_at: datetime
    launched_at: datetime | None
    finished_at: datetime | None
    audience_size: int  # the audience now (before launch), or as snapshotted
    results: Results


class RecipientOut(msgspec.Struct, kw_only=True):
    member_id: str
    status: RecipientStatus
    coupon_id: str | None
    coupon_status: str | None  # available | locked | used
    reason: str
    processed_at: datetime | None
