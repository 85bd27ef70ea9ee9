"""Request and response bodies of the orders APIs (storefront and merchant)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from core.cart.schemas import MAX_QUANTITY_INPUT

# A ULID as core.db.new_id makes it (Crockford base32, 26 characters).
Id = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")]
# Bounds of the input only; the business limit per line is the cart's (422 cart.limit_exceeded).
Quantity = Annotated[int, msgspec.Meta(ge=1, le=MAX_QUANTITY_INPUT)]
Activity = Annotated[str, msgspec.Meta(max_length=80)]
Method = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,19}$")]
Note = Annotated[str, msgspec.Meta(max_length=200)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Status = Literal[
    "pending_payment", "paid", "awaiting_pickup", "shipped", "completed", "cancelled", "refunded"
]
# Free-form objects a fulfillment method or a plugin reads: small ones only.
SmallObject = Annotated[dict[str, Any], msgspec.Meta(max_length=50)]
MAX_LINES = 50


class OrderItemIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    sku_id: Id
    quantity: Quantity
    activity: Activity = ""


class PlaceOrderIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Either ``from_cart`` (the selected cart lines, or ``line_ids``) or ``items`` (a direct
    buy). ``fulfillment_data`` is the method's input: ``{"address_id": ...}`` for express.
    Without ``fulfillment`` the store chooses: a plugin's default for this cart (a bound
    buyer's leader point), else express."""

    from_cart: bool = False
    line_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=MAX_LINES)] | None = None
    items: Annotated[list[OrderItemIn], msgspec.Meta(min_length=1, max_length=MAX_LINES)] | None = (
        None
    )
    fulfillment: Method | None = None
    fulfillment_data: SmallObject = {}
    note: Note = ""
    options: SmallObject = {}


class CancelIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Note = ""


class MerchantCancelIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason


class ShipIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    carrier: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    tracking_no: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9-]{1,64}$")]


class AdjustmentOut(msgspec.Struct, kw_only=True):
    source: str
    label: str
    amount: int
    stage: str
    line_key: str | None = None


class OrderLineOut(msgspec.Struct, kw_only=True):
    id: str
    sku_id: str
    product_id: str
    title: str
    sku_label: str
    image: str
    unit_price: int
    quantity: int
    line_total: int
    adjustments: list[AdjustmentOut]
    activity: str
    refunded_quantity: int


class OrderEventOut(msgspec.Struct, kw_only=True):
    from_status: str
    to_status: str
    actor: str
    reason: str
    created_at: datetime


class OrderOut(msgspec.Struct, kw_only=True):
    id: str
    number: str
    member_id: str
    status: str
    items_total: int
    discount_total: int
    shipping_fee: int
    payable: int
    paid_amount: int
    refunded_amount: int
    fulfillment: str
    fulfillment_data: dict[str, Any]
    # "" when the order may be fulfilled; else the plugin holding it back (e.g. "groupbuy").
    fulfillment_hold: str = ""
    adjustments: list[AdjustmentOut]
    note: str
    payment_deadline: datetime | None
    paid_at: datetime | None
    shipped_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str
    carrier: str
    tracking_no: str
    created_at: datetime
    lines: list[OrderLineOut]


class MerchantOrderOut(OrderOut, kw_only=True):
    """The merchant's detail adds the order's history."""

    events: list[OrderEventOut]
