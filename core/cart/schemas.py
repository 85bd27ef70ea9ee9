"""Bodies of the cart API and the priced cart that checkout (orders) is built on."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from core.commerce import Adjustment, FulfillmentOption, LineProblem, Stage

# Schema bounds: a quantity outside them is a 400 before any rule runs. The business limit
# per line (``MAX_LINE_QUANTITY`` in core.cart.defaults) is a 422 ``cart.limit_exceeded``.
MAX_QUANTITY_INPUT = 99_999
MAX_CART_LINES = 100

Quantity = Annotated[int, msgspec.Meta(ge=1, le=MAX_QUANTITY_INPUT)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Activity = Annotated[str, msgspec.Meta(max_length=80)]  # "" or "<plugin>:<reference>"
Method = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,40}$")]
# Free-form objects a plugin reads (the pickup point, a coupon id): small ones only.
SmallObject = Annotated[dict[str, Any], msgspec.Meta(max_length=50)]
LineIds = Annotated[list[Id], msgspec.Meta(max_length=MAX_CART_LINES)]


class LineInput(msgspec.Struct, frozen=True, kw_only=True):
    """A line to price: a cart line (``key`` = its id) or a direct buy (``key`` = "direct")."""

    key: str
    sku_id: str
    quantity: int
    activity: str = ""


# ---- the priced cart ---------------------------------------------------------------------


class PricedLine(msgspec.Struct, kw_only=True):
    key: str
    sku_id: str
    product_id: str
    title: str
    sku_label: str
    image: str
    unit_price: int  # fen, the SKU's price
    quantity: int
    activity: str
    base_total: int  # unit_price × quantity
    line_stage_total: int  # after the line stage (an activity price), before discounts
    total: int  # after every adjustment tied to this line; never below 0
    adjustments: list[Adjustment]  # the ones tied to this line, in stage order
    problems: list[LineProblem]


class AdjustmentTotal(msgspec.Struct, frozen=True, kw_only=True):
    """Adjustments of one source and label summed, for the checkout page ("会员95折 −¥3.20")."""

    source: str
    label: str
    stage: Stage
    amount: int


class PricedCart(msgspec.Struct, kw_only=True):
    """The result of the pricing pipeline, as the storefront shows it and orders stores it.

    ``payable = items_total - discount_total + fees_total`` and is never negative.
    """

    lines: list[PricedLine]
    adjustments: list[Adjustment]  # every adjustment, in stage order (line- and order-level)
    breakdown: list[AdjustmentTotal]  # the same, summed per (stage, source, label)
    fulfillment: str | None
    fulfillment_options: list[FulfillmentOption]
    problems: list[LineProblem]  # line problems; line_key "" is about the whole cart
    quantity: int  # units over all lines
    items_total: int  # Σ base_total
    discount_total: int  # Σ of the negative adjustments, as a positive number
    fees_total: int  # Σ of the positive adjustments (fees stage only)
    shipping_fee: int  # the part of fees_total charged for the chosen fulfillment
    payable: int
    ok: bool  # no problems: the lines can be bought as they are (a method may still be due)


# ---- storefront API ----------------------------------------------------------------------


class LineAdd(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    sku_id: Id
    quantity: Quantity = 1
    activity: Activity = ""


class LinePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    quantity: Quantity | None = None
    selected: bool | None = None


class SelectIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    selected: bool
    line_ids: LineIds | None = None  # None: every line of the cart


class PreviewIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    fulfillment: Method | None = None
    fulfillment_data: SmallObject = {}
    options: SmallObject = {}  # coupon_id, use_points, ... as the plugins define
    line_ids: LineIds | None = None  # None: the selected lines


class CartLineOut(msgspec.Struct, kw_only=True):
    id: str
    sku_id: str
    product_id: str
    title: str
    sku_label: str
    image: str
    unit_price: int
    quantity: int
    activity: str
    selected: bool
    sellable: int
    on_shelf: bool
    problems: list[LineProblem]
    added_at: datetime


class CartOut(msgspec.Struct, kw_only=True):
    """The cart page: every line with its problems, and the selected lines priced."""

    lines: list[CartLineOut]
    problems: list[LineProblem]  # of all lines, selected or not
    selected: PricedCart  # the selected lines, priced (no fulfillment chosen yet)
