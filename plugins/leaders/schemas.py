"""The leaders plugin's settings and the bodies of its APIs (storefront and merchant)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from core.members.schemas import Phone
from core.orders.schemas import Id

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Address = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]
PhotoUrl = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=r"^https?://\S+$")]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
LevelCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,20}$")]
ClockTime = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]
# Basis points: 1000 = 10.00 %.
Rate = Annotated[int, msgspec.Meta(ge=0, le=10_000)]
Fen = Annotated[int, msgspec.Meta(ge=0, le=100_000_000)]
LeaderStatus = Literal["applied", "active", "rejected", "suspended", "ended"]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
Price = Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]
# upcoming: not open yet; open: takes orders; closed: past its cut-off.
Phase = Literal["upcoming", "open", "closed"]


class Level(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A leader level and its default commission rate."""

    code: LevelCode
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    commission_bp: Rate


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _default_levels() -> list[Level]:
    return [Level(code="standard", name="团长", commission_bp=1000)]


class LeadersSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A merchant's settings of the leaders plugin."""

    # How long a buyer stays bound to a leader; 0: for good.
    binding_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 0
    # "first": a bound buyer stays with their leader while the binding lasts; "latest": the
    # last leader link the buyer opened wins.
    binding_rule: Literal["first", "latest"] = "first"
    levels: Annotated[list[Level], msgspec.Meta(min_length=1, max_length=20)] = msgspec.field(
        default_factory=_default_levels
    )
    default_level: LevelCode = "standard"  # a new leader's level
    # A leader's pickup point is open daily from ``point_opens`` to ``point_closes``.
    point_opens: ClockTime = "08:00"
    point_closes: ClockTime = "21:00"
    # The mini-program page a leader's share link and QR code open.
    share_page: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] = "pages/index/index"

    def __post_init__(self) -> None:
        codes = [level.code for level in self.levels]
        if len(set(codes)) != len(codes):
            raise ValueError("level codes must be unique")
        if self.default_level not in codes:
            raise ValueError("default_level must be one of the levels")
        if _minutes(self.point_closes) - _minutes(self.point_opens) < 60:
            raise ValueError("a leader's point must open for at least an hour a day")

    def level(self, code: str) -> Level | None:
        return next((level for level in self.levels if level.code == code), None)


# ---- storefront ------------------------------------------------------------------------------


class ApplyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    phone: Phone
    address: Address
    latitude: Latitude
    longitude: Longitude
    photo_url: PhotoUrl  # a photo of the place where neighbours pick up


class ShareOut(msgspec.Struct, kw_only=True):
    """What the mini-program needs to share a leader's link or draw their QR code
    (``wxacode.getUnlimited`` with ``page`` and ``scene``); a new buyer signs in with
    ``source``/``source_ref``, a known one binds with ``POST /leaders/{id}/bind``."""

    path: str  # page?query, for wx.shareAppMessage
    page: str
    scene: str  # at most 32 characters
    source: str
    source_ref: str


class StorePoint(msgspec.Struct, kw_only=True):
    id: str
    name: str
    address: str
    latitude: float
    longitude: float


class LeaderCard(msgspec.Struct, kw_only=True):
    """A leader as buyers see them (the share page)."""

    id: str
    name: str
    photo_url: str
    address: str
    point: StorePoint | None


class MyLeaderOut(msgspec.Struct, kw_only=True):
    """A member's own leader profile: the application while it is reviewed, then the
    leader's area."""

    id: str
    status: str
    name: str
    phone: str
    address: str
    latitude: float
    longitude: float
    photo_url: str
    level: str
    level_name: str
    reason: str
    point: StorePoint | None
    share: ShareOut | None  # only while active
    applied_at: datetime
    approved_at: datetime | None


class BindingOut(msgspec.Struct, kw_only=True):
    leader: LeaderCard
    source: str
    bound_at: datetime
    expires_at: datetime | None


class MyBinding(msgspec.Struct, kw_only=True):
    binding: BindingOut | None  # None: not bound (or the binding lapsed)


class BindOut(msgspec.Struct, kw_only=True):
    bound: bool  # whether this link's leader is the buyer's leader now
    binding: BindingOut | None  # the buyer's binding after the visit


class BuyerOut(msgspec.Struct, kw_only=True):
    member_id: str
    nickname: str
    avatar_url: str
    source: str
    bound_at: datetime
    expires_at: datetime | None


# ---- merchant --------------------------------------------------------------------------------


class ApproveIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    level: LevelCode | None = None  # None: the settings' default level


class ReasonIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason


class LevelIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    level: LevelCode


class LeaderStats(msgspec.Struct, kw_only=True):
    buyers: int  # buyers bound now
    orders: int  # paid orders that count for the leader
    gmv: int  # fen those orders paid, less what was refunded


class LeaderOut(msgspec.Struct, kw_only=True):
    id: str
    member_id: str
    status: str
    name: str
    phone: str
    address: str
    latitude: float
    longitude: float
    photo_url: str
    level: str
    point_id: str | None
    reason: str
    applied_at: datetime
    approved_at: datetime | None
    decided_at: datetime | None
    stats: LeaderStats


# ---- rounds (团购期) ----------------------------------------------------------------------------


class RoundItemIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    sku_id: Id
    round_price: Price


class RoundIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Title
    starts_at: datetime
    cutoff_at: datetime  # orders close here
    delivery_date: date  # the goods reach the leaders' points that day (China time)
    items: Annotated[list[RoundItemIn], msgspec.Meta(min_length=1, max_length=200)]


class RoundItemOut(msgspec.Struct, kw_only=True):
    sku_id: str
    product_id: str
    title: str
    sku_label: str
    image: str
    price: int  # the SKU's own price, fen
    round_price: int


class RoundOut(msgspec.Struct, kw_only=True):
    id: str
    title: str
    phase: Phase
    starts_at: datetime
    cutoff_at: datetime
    delivery_date: date
    activity: str  # what a cart line names to buy at the round's prices: "leaders:<id>"
    items: list[RoundItemOut]
    closed_early_at: datetime | None
    created_at: datetime


class RoundList(msgspec.Struct, kw_only=True):
    items: list[RoundOut]


class PickItem(msgspec.Struct, kw_only=True):
    sku_id: str
    product_id: str
    title: str
    sku_label: str
    quantity: int


class PickOrderLine(msgspec.Struct, kw_only=True):
    sku_id: str
    title: str
    sku_label: str
    quantity: int


class PickOrder(msgspec.Struct, kw_only=True):
    order_id: str
    number: str
    status: str
    buyer: str  # the buyer's nickname
    lines: list[PickOrderLine]


class PickList(msgspec.Struct, kw_only=True):
    """What goes to one leader's point for one round: the products with their quantities,
    and the buyers' orders they make up (paid orders, less what was refunded)."""

    round_id: str
    leader_id: str
    leader_name: str
    leader_phone: str
    point_id: str | None
    point_address: str
    delivery_date: date
    final: bool  # the round is past its cut-off: nothing more will be added
    status: str  # pending | arrived
    arrived_at: datetime | None
    items: list[PickItem]
    orders: list[PickOrder]


class PickLists(msgspec.Struct, kw_only=True):
    round_id: str
    items: list[PickList]


class LeaderOrderOut(msgspec.Struct, kw_only=True):
    """An order that counts for the leader, as the leader sees it."""

    order_id: str
    number: str
    status: str
    round_id: str | None
    buyer: str
    payable: int
    paid_amount: int
    refunded_amount: int
    fulfillment_hold: str
    created_at: datetime
