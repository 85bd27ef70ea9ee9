"""Request and response bodies of the members APIs (storefront and merchant).

A member id never comes from the client on the storefront: it is always the token's.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from core.analytics.schemas import RfmOut

Source = Literal["direct", "share", "scan", "leader"]
# No control characters in anything a person typed.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
HttpsUrl = Annotated[
    str, msgspec.Meta(pattern=r"^(https://[^\s]+)?$", max_length=500, description="https only")
]
Nickname = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=_PRINTABLE)]
# A mainland mobile number, or an international one with its + and country code.
Phone = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(1[3-9][0-9]{9}|\+[1-9][0-9]{6,14})$",
        description="11-digit mainland mobile number, or +<country code><number>",
    ),
]
MAX_FEN = 2_000_000_000  # below PostgreSQL's 32-bit integer


# ---- storefront: sign-in -----------------------------------------------------------------


class WxLoginIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Code  # from wx.login(), one use
    source: Source = "direct"  # how a new member arrived; ignored for a known one
    source_ref: Annotated[str, msgspec.Meta(max_length=80, pattern=_PRINTABLE)] = ""


class RefreshIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class LevelBrief(msgspec.Struct, kw_only=True):
    id: str
    name: str
    discount_percent: int


class MemberOut(msgspec.Struct, kw_only=True):
    id: str
    nickname: str
    avatar_url: str
    gender: int  # 0 unknown, 1 male, 2 female
    birthday: date | None
    phone: str | None
    level: LevelBrief | None
    total_paid: int  # fen
    source: str
    created_at: datetime


class TokenOut(msgspec.Struct, kw_only=True):
    access_token: str
    token_type: str
    expires_in: int  # seconds
    refresh_token: str  # rotates: each use returns a new one and ends the old
    refresh_expires_in: int
    member: MemberOut


# ---- storefront: profile and addresses --------------------------------------------------


class ProfilePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    nickname: Nickname | UnsetType = UNSET
    avatar_url: HttpsUrl | UnsetType = UNSET
    gender: Literal[0, 1, 2] | UnsetType = UNSET
    birthday: date | UnsetType | None = UNSET  # not in the future


class PhoneIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Code  # from the getPhoneNumber button, one use


Name40 = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=_PRINTABLE)]
District = Annotated[str, msgspec.Meta(max_length=40, pattern=_PRINTABLE)]
Detail = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=_PRINTABLE)]


class AddressIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name40
    phone: Phone
    province: Name40
    city: Name40
    district: District = ""
    detail: Detail
    is_default: bool = False  # the first address is the default whatever this says


class AddressPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name40 | UnsetType = UNSET
    phone: Phone | UnsetType = UNSET
    province: Name40 | UnsetType = UNSET
    city: Name40 | UnsetType = UNSET
    district: District | UnsetType = UNSET
    detail: Detail | UnsetType = UNSET
    is_default: bool | UnsetType = UNSET


class AddressOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    phone: str
    province: str
    city: str
    district: str
    detail: str
    is_default: bool
    created_at: datetime


# ---- merchant: levels ---------------------------------------------------------------------

DISCOUNT_DOC = (
    "Percent off for members of this level: 5 means 5% off (the member pays 95%, 9.5折); "
    "0 means no discount; 100 makes goods free. The discount is rounded down to the fen."
)
Discount = Annotated[int, msgspec.Meta(ge=0, le=100, description=DISCOUNT_DOC)]
Threshold = Annotated[
    int,
    msgspec.Meta(
        ge=0,
        le=MAX_FEN,
        description="Cumulative paid spend in fen that reaches this level; unique per store",
    ),
]


class LevelIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name40
    threshold: Threshold
    discount_percent: Discount = 0


class LevelPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name40 | UnsetType = UNSET
    threshold: Threshold | UnsetType = UNSET
    discount_percent: Discount | UnsetType = UNSET


class LevelOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    threshold: int
    discount_percent: int
    members: int  # how many members hold it now


# ---- merchant: members ------------------------------------------------------------------

Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern=r"^[^\x00-\x1f\x7f,]*$")]


class TagsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    tags: Annotated[list[Tag], msgspec.Meta(max_length=20)]


class MemberSummary(msgspec.Struct, kw_only=True):
    id: str
    nickname: str
    avatar_url: str
    phone: str | None
    level: LevelBrief | None
    total_paid: int
    tags: list[str]
    source: str
    created_at: datetime
    last_login_at: datetime


class OrderBrief(msgspec.Struct, kw_only=True):
    id: str
    number: str
    status: str
    payable: int
    created_at: datetime


class MemberDetail(MemberSummary, kw_only=True):
    gender: int
    birthday: date | None
    source_ref: str
    addresses: list[AddressOut]
    orders: list[OrderBrief]  # the newest 20
    # RFM scores and segment as of the last computation; None if they have bought nothing
    rfm: RfmOut | None = None
