"""The share coupon plugin's settings and the bodies of its APIs (merchant and storefront).

A campaign's settings are one msgspec Struct: every field is checked on its own by msgspec
(a 400 naming the field), and the checks that need two fields or the database (a window, a
reward's template, a budget below what is already spent) are 422s naming the field too."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from core.coupons.schemas import Id, Moment

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[^\x00-\x1f\x7f]*\S")]
Fen = Annotated[int, msgspec.Meta(ge=0, le=100_000_000)]
Budget = Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]
Ids = Annotated[list[Id], msgspec.Meta(max_length=100)]
# A mini-program page path, as in app.json: "pages/sharecoupon/claim".
PagePath = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$", max_length=120)
]
Trigger = Literal["order", "manual"]
Claimers = Literal["anyone", "new_members", "dormant"]
CampaignStatus = Literal["active", "stopped"]
Phase = Literal["upcoming", "running", "spent", "ended"]
PackStatus = Literal["active", "empty", "expired", "void"]
RewardStatus = Literal["pending", "granted", "cancelled"]


class ShareCouponSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A merchant's settings of the share coupon plugin."""

    # The mini-program page a shared card opens; it reads ``t`` from its query.
    share_page: PagePath = "pages/sharecoupon/claim"
    # How many claimers the public share page shows at most (the newest first).
    claimers_shown: Annotated[int, msgspec.Meta(ge=0, le=50)] = 20


# ---- merchant: campaigns -------------------------------------------------------------------


class RewardIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The sharer's reward: a coupon of ``template_id`` or ``points`` points, once per pack,
    when ``claims`` friends have claimed (``when="claims"``) or when the first friend pays
    with a claimed coupon (``when="first_use"``)."""

    kind: Literal["coupon", "points"]
    when: Literal["claims", "first_use"] = "claims"
    claims: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    template_id: Id | None = None
    points: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0


class CampaignIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A share coupon campaign. ``template_id`` is the coupon template friends get (usually
    one members cannot claim themselves); a pack holds ``pack_size`` of them.

    ``trigger="order"``: a paid order of at least ``min_order_amount`` fen (and, if given,
    with a line of one of ``product_ids`` or ``category_ids``) unlocks a pack for its buyer.
    ``trigger="manual"``: any member may open one pack ("share to win").
    ``claimers``: ``anyone``, ``new_members`` (never paid an order) or ``dormant`` (no paid
    order in ``dormant_days``). A member claims once per pack, and once per campaign when
    ``one_per_campaign``. Packs last ``pack_valid_hours``; a claimed coupon lasts
    ``coupon_valid_days`` (never past the template's own end; None: the template's
    validity). ``max_packs`` and ``max_claims`` are the budget (None: none)."""

    title: Title
    template_id: Id
    pack_size: Annotated[int, msgspec.Meta(ge=1, le=100)]
    trigger: Trigger = "order"
    min_order_amount: Fen = 0
    product_ids: Ids = []
    category_ids: Ids = []
    claimers: Claimers = "anyone"
    dormant_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 0
    one_per_campaign: bool = True
    pack_valid_hours: Annotated[int, msgspec.Meta(ge=1, le=720)] = 24
    coupon_valid_days: Annotated[int, msgspec.Meta(ge=1, le=365)] | None = None
    max_packs: Budget | None = None
    max_claims: Budget | None = None
    reward: RewardIn | None = None
    starts_at: Moment | None = None  # None: now
    ends_at: Moment | None = None  # None: until stopped


class RewardOut(msgspec.Struct, kw_only=True):
    kind: str
    when: str
    claims: int
    template_id: str | None
    points: int


class CampaignOut(msgspec.Struct, kw_only=True):
    id: str
    title: str
    template_id: str
    pack_size: int
    trigger: Trigger
    min_order_amount: int
    product_ids: list[str]
    category_ids: list[str]
    claimers: Claimers
    dormant_days: int
    one_per_campaign: bool
    pack_valid_hours: int
    coupon_valid_days: int | None
    max_packs: int | None
    max_claims: int | None
    reward: RewardOut | None
    starts_at: datetime
    ends_at: datetime | None
    status: CampaignStatus
    phase: Phase  # "spent": a budget is used up and the campaign hands out nothing more
    packs_issued: int
    claims: int
    created_at: datetime
    stopped_at: datetime | None


class PackAdminOut(msgspec.Struct, kw_only=True):
    """A pack as the merchant sees it."""

    id: str
    campaign_id: str
    sharer_id: str
    order_id: str | None
    size: int
    claimed: int
    status: PackStatus
    shared: bool
    expires_at: datetime
    created_at: datetime
    voided_at: datetime | None
    reward_status: RewardStatus | None


class StatsFigures(msgspec.Struct, kw_only=True):
    packs_issued: int
    packs_shared: int
    claims: int
    claim_rate_percent: int  # claims per coupon in the packs issued, rounded down
    new_members: int  # registered through a share of the campaign
    coupons_used: int  # claimed coupons on a paid order
    gmv: int  # fen paid for those orders, less what was refunded
    discount_cost: int  # fen the claimed coupons took off those orders
    rewards_granted: int
    reward_coupon_value: int  # fen, face value of the reward coupons granted
    reward_points: int


class StatsDay(StatsFigures, kw_only=True):
    day: date  # China Standard Time


class StatsOut(msgspec.Struct, kw_only=True):
    campaign_id: str
    totals: StatsFigures
    days: list[StatsDay]  # the days with anything, oldest first


# ---- storefront ----------------------------------------------------------------------------


class CouponBrief(msgspec.Struct, kw_only=True):
    template_id: str
    name: str
    label: str  # "满100减20", "立减5元"


class Claimer(msgspec.Struct, kw_only=True):
    """A friend as others see them: never an id, a phone or an openid."""

    nickname: str
    avatar_url: str
    claimed_at: datetime


class RewardState(msgspec.Struct, kw_only=True):
    kind: str
    status: RewardStatus
    points: int
    coupon_id: str | None


class PackOut(msgspec.Struct, kw_only=True):
    """A pack as its sharer sees it (order detail, "my packs")."""

    id: str
    campaign_id: str
    title: str
    coupon: CouponBrief
    order_id: str | None
    size: int
    left: int
    status: PackStatus
    shared: bool
    expires_at: datetime
    created_at: datetime
    claimers: list[Claimer]
    reward: RewardState | None


class ShareOut(msgspec.Struct, kw_only=True):
    """What ``onShareAppMessage`` returns: ``{title, path}``. ``token`` is the share's only
    key; the same pack always shares the same token."""

    token: str
    title: str
    path: str  # "/pages/sharecoupon/claim?t=<token>"
    query: str  # "t=<token>"
    expires_at: datetime


class SharePage(msgspec.Struct, kw_only=True):
    """The public share page: what a friend sees before claiming."""

    server_time: datetime
    title: str
    coupon: CouponBrief
    size: int
    left: int
    status: PackStatus
    expires_at: datetime
    claimers: list[Claimer]


class ClaimOut(msgspec.Struct, kw_only=True):
    coupon_id: str  # the member's coupon, in GET /me/coupons
    coupon: CouponBrief
    valid_until: datetime
    left: int


class StoreCampaign(msgspec.Struct, kw_only=True):
    """A running "share to win" campaign a member may open a pack of."""

    id: str
    title: str
    coupon: CouponBrief
    pack_size: int
    ends_at: datetime | None


# ---- console -------------------------------------------------------------------------------

# An end date as the console's form gives it: the campaign ends at its start (China time).
Day = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class CampaignForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """The console's campaign form: ``CampaignIn`` flat, one input per field."""

    title: Title
    template_id: Id
    pack_size: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5
    trigger: Trigger = "order"
    min_order_amount: Fen = 0
    product_ids: Ids = []
    category_ids: Ids = []
    claimers: Claimers = "anyone"
    dormant_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 0
    one_per_campaign: bool = False
    pack_valid_hours: Annotated[int, msgspec.Meta(ge=1, le=720)] = 24
    coupon_valid_days: Annotated[int, msgspec.Meta(ge=1, le=365)] | None = None
    max_packs: Budget | None = None
    max_claims: Budget | None = None
    reward_kind: Literal["none", "coupon", "points"] = "none"
    reward_when: Literal["claims", "first_use"] = "claims"
    reward_claims: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    reward_template_id: Id | None = None
    reward_points: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0
    ends_on: Day | None = None
