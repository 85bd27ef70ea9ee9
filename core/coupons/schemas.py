"""Request and response bodies of the coupon APIs (storefront and merchant).

Shapes, types and text lengths are checked here (a 400 naming the field); the coupon rules
(amounts above zero, a percent between 1 and 99, one kind of validity, a scope that names
the store's own categories or products) are checked by ``core.coupons.admin`` as 422s with a
``coupon.*`` code, since they depend on each other and on the kind. Money is integer fen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

_CTRL = r"\x00-\x1f\x7f"
Kind = Literal["fixed", "percent", "threshold", "free_shipping"]
Scope = Literal["all", "categories", "products"]
TemplateStatus = Literal["active", "stopped"]
# What a member sees: "expired" is an available coupon whose validity has ended.
CouponStatus = Literal["available", "locked", "used", "expired"]
Id = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Z]{26}\Z")]
ScopeId = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z]{1,64}\Z")]
_NOT_BLANK = rf"^[^{_CTRL}]*[^\s{_CTRL}][^{_CTRL}]*\Z"  # one line, some non-space
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=_NOT_BLANK)]
Description = Annotated[str, msgspec.Meta(max_length=200, pattern=rf"^[^{_CTRL}]*\Z")]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
Moment = Annotated[datetime, msgspec.Meta(tz=True)]  # with its offset: no guessing the zone
MAX_ISSUE = 1000  # members per issue call
MAX_FEN = 100_000_000  # ¥1,000,000: far above any coupon, far below int32
MAX_STOCK = 10_000_000
MAX_SCOPE_IDS = 200
MAX_PER_MEMBER = 100
MAX_VALID_DAYS = 365
# The body's own bound; the rule (at most MAX_SCOPE_IDS) is a 422 from the service.
SCOPE_IDS_INPUT = 1000


# ---- merchant -----------------------------------------------------------------------------


class TemplateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A coupon design. Validity is either fixed dates (``valid_from`` < ``valid_until``) or
    ``valid_days`` after the claim. ``scope_ids`` name categories (their subcategories are
    included) or products."""

    name: Name
    kind: Kind
    amount: int = 0  # fen off: fixed, threshold
    percent_off: int = 0  # percent: 1..99 (15 is 8.5折)
    max_discount: int | None = None  # percent: a cap in fen
    min_spend: int = 0  # fen of in-scope items needed; threshold: the 满 of 满减
    scope: Scope = "all"
    scope_ids: Annotated[list[ScopeId], msgspec.Meta(max_length=SCOPE_IDS_INPUT)] = []
    valid_from: Moment | None = None
    valid_until: Moment | None = None
    valid_days: int | None = None
    total_stock: int | None = None  # None: unlimited
    per_member_limit: int = 1
    claimable: bool = True  # members may claim it themselves (else only issued)
    description: Description = ""


class TemplatePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    total_stock: int | UnsetType | None = UNSET  # not below what was already issued
    claimable: bool | UnsetType = UNSET
    status: TemplateStatus | UnsetType = UNSET  # stopped: no more claims, held coupons unusable


class TemplateOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    description: str
    kind: str
    label: str  # "满100减20", "8.5折", "立减5元", "免运费"
    amount: int
    percent_off: int
    max_discount: int | None
    min_spend: int
    scope: str
    scope_ids: list[str]
    valid_from: datetime | None
    valid_until: datetime | None
    valid_days: int | None
    total_stock: int | None
    per_member_limit: int
    claimable: bool
    status: str
    issued_count: int  # claimed or issued
    used_count: int  # on paid orders (a whole refund gives one back)
    remaining: int | None  # None: unlimited
    created_at: datetime
    updated_at: datetime


class IssueIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Give the coupon to these members, or to every member with ``tag``: one of the two."""

    member_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=MAX_ISSUE)] | None = None
    tag: Tag | None = None


class Skipped(msgspec.Struct, kw_only=True):
    member_id: str
    code: str  # coupon.limit_reached, coupon.sold_out, member.not_found


class IssueOut(msgspec.Struct, kw_only=True):
    issued: int
    skipped: list[Skipped]


class IssuedCouponOut(msgspec.Struct, kw_only=True):
    """A member's coupon as the merchant sees it."""

    id: str
    template_id: str
    member_id: str
    status: CouponStatus
    source: str  # claim | issue | <plugin>
    order_id: str | None
    valid_from: datetime
    valid_until: datetime
    claimed_at: datetime
    locked_at: datetime | None
    used_at: datetime | None


# ---- storefront --------------------------------------------------------------------------


class ClaimableOut(msgspec.Struct, kw_only=True):
    """A coupon the member may claim, with how many they hold already."""

    id: str  # the template: POST /coupons/{id}/claim
    name: str
    description: str
    kind: str
    label: str
    amount: int
    percent_off: int
    max_discount: int | None
    min_spend: int
    scope: str
    scope_ids: list[str]
    valid_from: datetime | None
    valid_until: datetime | None
    valid_days: int | None
    remaining: int | None  # None: unlimited
    per_member_limit: int
    claimed: int  # by this member
    can_claim: bool


class MemberCouponOut(msgspec.Struct, kw_only=True):
    """One of the member's coupons. Pass its ``id`` as ``options.coupon_id`` to use it."""

    id: str
    template_id: str
    name: str
    description: str
    kind: str
    label: str
    amount: int
    percent_off: int
    max_discount: int | None
    min_spend: int
    scope: str
    scope_ids: list[str]
    status: CouponStatus
    source: str
    order_id: str | None  # the unpaid or paid order holding it
    valid_from: datetime
    valid_until: datetime
    claimed_at: datetime
    used_at: datetime | None
