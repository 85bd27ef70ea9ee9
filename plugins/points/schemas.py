"""The points plugin's settings and the bodies of its storefront and merchant APIs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from core.orders.schemas import Id

Points = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Percent = Annotated[int, msgspec.Meta(ge=0, le=100)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Kind = Literal["earn", "redeem", "expire", "reverse", "adjust"]


class PointsSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A merchant's settings of the points plugin."""

    # Earning: points per yuan paid, when they count, and the level multipliers in percent
    # by member level id (a level not named earns 100%).
    points_per_yuan: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 1
    earn_on: Literal["paid", "completed"] = "paid"  # "completed": pending until then
    level_multipliers: dict[str, Annotated[int, msgspec.Meta(ge=0, le=1000)]] = {}
    register_bonus: Points = 0
    first_order_bonus: Points = 0
    checkin_points: Points = 5
    streak_days: Annotated[int, msgspec.Meta(ge=2, le=366)] = 7  # every Nth day in a row
    streak_bonus: Points = 0
    # Expiry: N months after earning, or the end of the next year (China time).
    expiry: Literal["months", "next_year_end"] = "months"
    expiry_months: Annotated[int, msgspec.Meta(ge=1, le=120)] = 12
    notice_days: Annotated[int, msgspec.Meta(ge=1, le=90)] = 7  # "expiring soon" window
    # Redeeming: points that make one yuan, the largest share of the payable they may pay,
    # and the fewest points an order may use.
    redeem_points_per_yuan: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 100
    max_share_percent: Percent = 50
    min_points: Points = 100


# ---- storefront ----------------------------------------------------------------------------


class BalanceOut(msgspec.Struct, kw_only=True):
    balance: int
    pending: int
    expiring_soon: int  # points of the lots expiring within the notice window
    next_expiry: datetime | None
    streak: int
    checked_in_today: bool


class EntryOut(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    points: int
    balance_after: int
    ref_type: str
    ref_id: str
    reason: str
    actor: str
    created_at: datetime


class LotOut(msgspec.Struct, kw_only=True):
    id: str
    points: int
    remaining: int
    status: str
    ref_type: str
    ref_id: str
    earned_at: datetime
    expires_at: datetime | None


class CheckinOut(msgspec.Struct, kw_only=True):
    points: int
    streak: int
    balance: int


class ExchangeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    item_id: Id


class ExchangeOut(msgspec.Struct, kw_only=True):
    coupon_id: str
    points: int
    balance: int


class CatalogItemOut(msgspec.Struct, kw_only=True):
    id: str
    template_id: str
    title: str
    cost: int
    active: bool


# ---- merchant ------------------------------------------------------------------------------


class AdjustIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    points: Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]  # not 0
    reason: Reason


class MemberPointsOut(msgspec.Struct, kw_only=True):
    member_id: str
    balance: int
    pending: int
    lots: list[LotOut]


class CatalogItemIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    template_id: Id
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    cost: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


class StatsOut(msgspec.Struct, kw_only=True):
    issued: int  # earned + positive adjustments
    redeemed: int  # net of uses given back
    expired: int
    reversed: int  # earned points taken back by refunds
    liability: int  # active, unexpired, unconsumed points outstanding
    pending: int
