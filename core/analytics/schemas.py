"""Response bodies of the analytics API. Money is integer fen; rates are fractions (0.25 is
25%) rounded to four places; people are distinct within a day, and a range's people are the
sum of its days (a member who bought on two days counts twice)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

SEGMENTS: dict[str, str] = {
    "important_value": "重要价值客户",  # recent, frequent, big spenders
    "important_develop": "重要发展客户",  # recent big spenders who buy rarely
    "important_keep": "重要保持客户",  # frequent big spenders not seen lately
    "important_retain": "重要挽留客户",  # big spenders, rare and not seen lately
    "general_value": "一般价值客户",
    "general_develop": "一般发展客户",
    "general_keep": "一般保持客户",
    "general_retain": "一般挽留客户",
}
Segment = Literal[
    "important_value",
    "important_develop",
    "important_keep",
    "important_retain",
    "general_value",
    "general_develop",
    "general_keep",
    "general_retain",
]


class ProductFigures(msgspec.Struct, kw_only=True):
    product_id: str
    views: int = 0
    cart_adds: int = 0
    paid_orders: int = 0
    units: int = 0
    sales: int = 0


class SourceFigures(msgspec.Struct, kw_only=True):
    source: str
    list_views: int = 0
    views: int = 0
    cart_adds: int = 0
    orders: int = 0
    gmv: int = 0
    benefit: int = 0


class DayFigures(msgspec.Struct, kw_only=True):
    """One day, as the rollup stores it."""

    day: date
    gmv: int
    paid_orders: int
    paying_members: int
    new_buyers: int
    returning_buyers: int
    refunded: int
    refund_orders: int
    net_revenue: int
    visitors: int
    product_viewers: int
    cart_members: int
    ordering_members: int
    list_views: int
    product_views: int
    cart_adds: int
    orders_placed: int
    products: list[ProductFigures] = []
    sources: list[SourceFigures] = []


class DayOut(msgspec.Struct, kw_only=True):
    """A row of the per-day table (and its chart): what was rolled up, or live for today."""

    day: date
    gmv: int
    net_revenue: int
    refunded: int
    paid_orders: int
    paying_members: int
    new_buyers: int
    returning_buyers: int
    aov: int
    visitors: int
    product_viewers: int
    cart_members: int
    ordering_members: int
    product_views: int
    cart_adds: int
    orders_placed: int
    live: bool = False  # computed now, not read from a stored rollup


class Funnel(msgspec.Struct, kw_only=True):
    visitors: int
    product_viewers: int
    cart_members: int
    ordering_members: int
    paying_members: int
    # Each step over the one before; the last, paying over visitors.
    view_rate: float
    cart_rate: float
    order_rate: float
    pay_rate: float
    conversion: float


class Totals(msgspec.Struct, kw_only=True):
    start: date
    end: date
    gmv: int
    net_revenue: int
    refunded: int
    refund_orders: int
    refund_rate: float  # refunded / gmv
    paid_orders: int
    paying_members: int
    new_buyers: int
    returning_buyers: int
    aov: int  # gmv // paid_orders, fen
    list_views: int
    product_views: int
    cart_adds: int
    orders_placed: int
    funnel: Funnel


class Change(msgspec.Struct, kw_only=True):
    """This period against the one before it: the difference, and it over the earlier value
    (None when the earlier value was 0)."""

    gmv: int
    gmv_ratio: float | None
    net_revenue: int
    net_revenue_ratio: float | None
    paid_orders: int
    paid_orders_ratio: float | None
    paying_members: int
    paying_members_ratio: float | None
    aov: int
    aov_ratio: float | None
    visitors: int
    visitors_ratio: float | None
    conversion: float


class ProductOut(msgspec.Struct, kw_only=True):
    product_id: str
    title: str
    views: int
    cart_adds: int
    paid_orders: int
    units: int
    sales: int


class SourceOut(msgspec.Struct, kw_only=True):
    source: str
    label: str
    list_views: int
    views: int
    cart_adds: int
    orders: int
    gmv: int
    benefit: int


class Dashboard(msgspec.Struct, kw_only=True):
    totals: Totals
    previous: Totals | None  # the period of the same length just before, if asked for
    change: Change | None
    days: list[DayOut]
    sources: list[SourceOut]
    top_products: list[ProductOut]
    segments: list[SegmentOut]
    live_days: int  # days computed now: today, and any past day not rolled up yet


class Repurchase(msgspec.Struct, kw_only=True):
    start: date
    end: date
    within_days: int
    buyers: int  # members with a purchase in the window
    repurchasers: int  # of them, who bought again within ``within_days`` of their first
    rate: float


class CohortRow(msgspec.Struct, kw_only=True):
    cohort: str  # first-purchase month, YYYY-MM
    members: int
    # members buying again in month +1, +2, … after the cohort month, and that over members
    retained: list[int]
    rates: list[float]


class Cohorts(msgspec.Struct, kw_only=True):
    computed_at: datetime | None
    rows: list[CohortRow]


class SegmentOut(msgspec.Struct, kw_only=True):
    segment: str
    label: str
    members: int
    monetary: int
    share: float  # of the scored members


class SegmentPoint(msgspec.Struct, kw_only=True):
    day: date
    members: int


class SegmentTrend(msgspec.Struct, kw_only=True):
    segment: str
    label: str
    points: list[SegmentPoint]


class Segments(msgspec.Struct, kw_only=True):
    computed_at: datetime | None
    members: int
    segments: list[SegmentOut]
    trends: list[SegmentTrend]


class RfmOut(msgspec.Struct, kw_only=True):
    """A member's scores as of the last computation."""

    segment: str
    label: str
    r: int
    f: int
    m: int
    orders: int
    monetary: int
    first_paid_at: datetime
    last_paid_at: datetime
    computed_at: datetime


class SegmentMember(msgspec.Struct, kw_only=True):
    member_id: str
    nickname: str
    r: int
    f: int
    m: int
    orders: int
    monetary: int
    last_paid_at: datetime


class Queued(msgspec.Struct, kw_only=True):
    job: str
    days: int = 0


class RollupIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    start: date
    end: date
