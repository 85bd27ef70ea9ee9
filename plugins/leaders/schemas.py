"""The leaders plugin's settings and the bodies of its APIs (storefront and merchant)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from core.members.schemas import Phone

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
