"""The pickup plugin's settings and the bodies of its APIs (storefront and merchant)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from core.orders.schemas import Id

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
Text = Annotated[str, msgspec.Meta(max_length=200)]
Phone = Annotated[str, msgspec.Meta(max_length=32)]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]
ClockTime = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]
LocalDate = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")]
Span = Annotated[list[ClockTime], msgspec.Meta(min_length=2, max_length=2)]
Day = Annotated[list[Span], msgspec.Meta(max_length=6)]
Week = Annotated[list[Day], msgspec.Meta(min_length=7, max_length=7)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Qr = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
PointStatus = Literal["active", "inactive"]
BookingDays = Annotated[int, msgspec.Meta(ge=1, le=60)]


class PickupSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A merchant's settings of the pickup plugin."""

    # The 到店自提 discount: none, a fixed amount of fen, or a percent of the order.
    discount_kind: Literal["none", "amount", "percent"] = "none"
    discount_value: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)] = 0
    discount_label: Annotated[str, msgspec.Meta(min_length=1, max_length=20)] = "到店自提优惠"
    # Days of slots buyers may choose from, today included.
    booking_days: Annotated[int, msgspec.Meta(ge=1, le=30)] = 3
    # Unclaimed orders: a reminder after ``remind_after_days``; after ``expire_after_days``
    # the order is refunded (``refund``) or left waiting (``keep``).
    remind_after_days: Annotated[int, msgspec.Meta(ge=1, le=60)] = 2
    expire_after_days: Annotated[int, msgspec.Meta(ge=1, le=90)] = 7
    unclaimed_action: Literal["refund", "keep"] = "refund"

    def __post_init__(self) -> None:
        if self.discount_kind == "percent" and self.discount_value > 100:
            raise ValueError("a percent discount is at most 100")


class PointIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    address: Text
    latitude: Latitude
    longitude: Longitude
    hours: Week
    phone: Phone = ""
    holidays: Annotated[list[LocalDate], msgspec.Meta(max_length=366)] = []
    slot_minutes: Annotated[int, msgspec.Meta(ge=5, le=1440)] = 30
    capacity: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None
    status: PointStatus = "active"
    staff_ids: Annotated[list[Id], msgspec.Meta(max_length=200)] = []
    # Members who verify here from the storefront (a community leader's own point).
    verifier_member_ids: Annotated[list[Id], msgspec.Meta(max_length=20)] = []
    # Days of slots bookable here, today included; None: the plugin's booking_days.
    booking_days: BookingDays | None = None


class PointOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    address: str
    phone: str
    latitude: float
    longitude: float
    hours: list[list[list[str]]]
    holidays: list[str]
    slot_minutes: int
    capacity: int | None
    status: str
    staff_ids: list[str]
    verifier_member_ids: list[str]
    booking_days: int | None
    created_at: datetime


class StorePoint(msgspec.Struct, kw_only=True):
    id: str
    name: str
    address: str
    phone: str
    latitude: float
    longitude: float
    distance_m: int | None  # None when the buyer gave no coordinates


class StorePointList(msgspec.Struct, kw_only=True):
    items: list[StorePoint]


class SlotOut(msgspec.Struct, kw_only=True):
    starts_at: datetime  # UTC; what the buyer sends back as fulfillment_data.slot
    ends_at: datetime
    available: bool
    left: int | None  # places left, None for a point without a capacity


class SlotList(msgspec.Struct, kw_only=True):
    point_id: str
    items: list[SlotOut]


class PickupTicket(msgspec.Struct, kw_only=True):
    """What the buyer shows at the counter."""

    order_id: str
    status: str  # pending | open | used | cancelled
    point: StorePoint
    slot_starts_at: datetime
    code: str | None  # only while the order awaits pickup
    qr: str | None  # the signed QR payload, likewise


class VerifyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Either the typed code or the scanned QR payload."""

    code: Code | None = None
    qr: Qr | None = None


class VerificationOut(msgspec.Struct, kw_only=True):
    order_id: str
    order_number: str
    point_id: str
    staff_id: str  # "" when a member verified
    method: str
    verified_at: datetime
    member_id: str | None = None  # the member who verified, at their own point
