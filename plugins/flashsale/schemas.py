"""Request and response bodies of the flash sale APIs (storefront and merchant)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from core.inventory.service import MAX_STOCK
from core.orders.schemas import Id, Method, Note, Quantity, SmallObject

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
Moment = Annotated[datetime, msgspec.Meta(tz=True)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=999)]
Minutes = Annotated[int, msgspec.Meta(ge=1, le=1440)]
Fen = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
Units = Annotated[int, msgspec.Meta(ge=1, le=MAX_STOCK)]
MAX_ITEMS = 50
Status = Literal["draft", "scheduled", "running", "ended", "cancelled"]


class FlashSaleSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A merchant's settings of the flash sale plugin."""

    # Minutes a flash order may stay unpaid (an activity may set its own).
    payment_window_minutes: Annotated[int, msgspec.Meta(ge=1, le=60)] = 5
    # Whether buyers see how many units are left.
    show_remaining_stock: bool = True
    # False runs this store's sales on the database alone (slower, equally correct); Redis is
    # used only where the deployment has it.
    use_redis: bool = True
    # Buy requests allowed per member and per client IP in each rate window.
    buys_per_member: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10
    buys_per_ip: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1000
    rate_window_seconds: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 10


# ---- merchant ------------------------------------------------------------------------------


class ItemIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    sku_id: Id
    flash_price: Fen
    stock: Units


class ActivityIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Title
    starts_at: Moment
    ends_at: Moment
    member_limit: Limit = 1
    order_limit: Limit = 1
    payment_window_minutes: Minutes | None = None
    items: Annotated[list[ItemIn], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]


class ItemOut(msgspec.Struct, kw_only=True):
    id: str
    sku_id: str
    product_id: str
    flash_price: int
    allotted: int
    stock: int
    sold: int
    paid: int
    refunded: int
    revenue: int


class ActivityOut(msgspec.Struct, kw_only=True):
    id: str
    title: str
    status: str
    starts_at: datetime
    ends_at: datetime
    member_limit: int
    order_limit: int
    payment_window_minutes: int | None
    published_at: datetime | None
    closed_at: datetime | None
    reconcile: dict[str, Any]
    created_at: datetime
    items: list[ItemOut]


class ItemStats(msgspec.Struct, kw_only=True):
    sku_id: str
    allotted: int
    sold: int
    paid: int
    refunded: int
    revenue: int
    remaining_db: int
    remaining_redis: int | None


class StatsOut(msgspec.Struct, kw_only=True):
    activity_id: str
    status: str
    allotted: int
    sold: int  # units held by unpaid orders plus paid ones
    pending: int  # units held by unpaid orders
    paid: int
    refunded: int
    revenue: int  # fen paid at the flash price, less refunds
    sell_through_percent: int  # paid units per allotted unit, rounded down
    orders: int
    unpaid_releases: int  # flash orders cancelled unpaid (timeout or buyer), units given back
    released_units: int
    items: list[ItemStats]


# ---- storefront ----------------------------------------------------------------------------

Phase = Literal["upcoming", "running", "ended"]


class StoreActivityCard(msgspec.Struct, kw_only=True):
    id: str
    title: str
    phase: Phase
    starts_at: datetime
    ends_at: datetime
    min_flash_price: int
    items: int


class StoreActivityList(msgspec.Struct, kw_only=True):
    server_time: datetime  # for countdowns: the client's clock may be off
    items: list[StoreActivityCard]
    next_cursor: str | None = None


class StoreItem(msgspec.Struct, kw_only=True):
    sku_id: str
    product_id: str
    title: str
    sku_label: str
    image: str
    price: int
    flash_price: int
    remaining: int | None  # None when the store hides it
    sold_out: bool


class StoreActivity(msgspec.Struct, kw_only=True):
    server_time: datetime
    id: str
    title: str
    phase: Phase
    starts_at: datetime
    ends_at: datetime
    member_limit: int
    order_limit: int
    items: list[StoreItem]


class BuyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    sku_id: Id
    quantity: Quantity = 1
    fulfillment: Method = "express"
    fulfillment_data: SmallObject = {}
    note: Note = ""


class BuyOut(msgspec.Struct, kw_only=True):
    """A won unit: the order awaits payment until ``payment_deadline``, then it is released."""

    status: str  # "pending_payment"
    order_id: str
    number: str
    activity_id: str
    sku_id: str
    quantity: int
    payable: int
    payment_deadline: datetime | None
