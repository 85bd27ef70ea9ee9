"""The shapes the commerce hooks exchange: a cart being priced, its lines, the adjustments
plugins add, fulfillment options, and catalog decorations.

Deciding hooks (validation, pricing, options, decorations) are sync and pure: they read these
views, and whatever a plugin needs from the database it loads beforehand in the matching async
``load_*`` hook into ``view.plugin_data[<plugin name>]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

# Pricing runs in this order; each stage sees the adjustments of the stages before it.
STAGES: tuple[str, ...] = ("line", "promotion", "coupon", "points", "fees")
Stage = Literal["line", "promotion", "coupon", "points", "fees"]


class Adjustment(msgspec.Struct, frozen=True, kw_only=True):
    """One change to the price: negative ``amount`` is a discount, positive a fee (fen)."""

    source: str  # who added it: "core.level", "core.shipping", "flashsale", "coupon:<id>", ...
    label: str  # shown to the buyer, e.g. "会员9.5折", "运费"
    amount: int
    stage: Stage
    line_key: str | None = None  # the line it belongs to, None for the whole order
    # Set by the pricing pipeline when it capped a discount (so no line and no total goes
    # below zero): the amount the plugin asked for; ``amount`` is what was applied.
    requested: int | None = None


class LineProblem(msgspec.Struct, frozen=True, kw_only=True):
    """Why a line cannot be bought as it is; ``code`` is a stable problem code."""

    line_key: str
    code: str  # e.g. "cart.limit_exceeded", "cart.insufficient_stock", "cart.off_shelf"
    message: str


class FulfillmentOption(msgspec.Struct, frozen=True, kw_only=True):
    method: str  # "express", "pickup", ...
    label: str
    fee: int  # fen for this cart, before any fee-stage discount
    available: bool = True
    reason: str = ""  # why not available


class PricingLine(msgspec.Struct, kw_only=True):
    """A line being priced, with what the deciding hooks need to know about its SKU."""

    key: str  # the cart line id, or "direct" for a direct buy
    sku_id: str
    product_id: str
    category_id: str | None
    title: str
    sku_label: str
    image: str
    unit_price: int  # fen, the SKU's price; the line stage may change it
    quantity: int
    activity: str = ""  # "" or "<plugin>:<reference>"
    on_shelf: bool = True
    sellable: int = 0  # stock above safety stock
    # Whether the core member-level discount applies to this line. A plugin whose activity
    # price does not stack with it sets this to False in ``load_cart_data``.
    level_discount: bool = True
    # A plugin that keeps this line's stock itself (a flash sale's activity stock) names
    # itself here in ``load_cart_data``: the core then neither reserves the SKU's stock when
    # the order is placed nor releases it on a cancel or refund; the plugin does, in its
    # ``order_before_place`` / ``order_cancelled`` / ``refund_succeeded``.
    stock_held_by: str = ""

    @property
    def base_total(self) -> int:
        return self.unit_price * self.quantity


class MemberView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    level_id: str | None = None
    level_name: str = ""
    level_discount_percent: int = 0
    total_paid: int = 0
    tags: list[str] = []


@dataclass
class CartView:
    """A cart (or a direct buy) on its way through validation, pricing and checkout."""

    tenant_id: str
    member: MemberView
    lines: list[PricingLine]
    fulfillment: str | None = None  # chosen method, if any
    fulfillment_data: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # coupon_id, use_points, ...
    plugin_data: dict[str, Any] = field(default_factory=dict)
    adjustments: list[Adjustment] = field(default_factory=list)
    # Problems found while loading (an unknown SKU: such a line is not in ``lines``).
    problems: list[LineProblem] = field(default_factory=list)
    # The answers of ``fulfillment_options``, set by the pipeline before the fees stage.
    fulfillment_options: list[FulfillmentOption] = field(default_factory=list)
    # A plugin may shorten the order's payment window (a flash sale) in ``load_cart_data``;
    # the shortest of this and the store's window applies.
    payment_window_minutes: int | None = None

    @property
    def items_total(self) -> int:
        return sum(line.base_total for line in self.lines)

    def total_after(self, stage: str | None = None) -> int:
        """Items total plus every adjustment so far (or up to and including ``stage``)."""
        stages = STAGES if stage is None else STAGES[: STAGES.index(stage) + 1]
        return self.items_total + sum(a.amount for a in self.adjustments if a.stage in stages)

    def line_total(self, key: str) -> int:
        line = next(line for line in self.lines if line.key == key)
        return line.base_total + sum(a.amount for a in self.adjustments if a.line_key == key)

    def chosen_option(self) -> FulfillmentOption | None:
        """The offered option the buyer chose (from the fees stage on), if any."""
        return next((o for o in self.fulfillment_options if o.method == self.fulfillment), None)


class ProductCard(msgspec.Struct, kw_only=True):
    """A product as lists show it; plugins decorate it with badges and activity prices."""

    id: str
    title: str
    image: str
    min_price: int
    category_id: str | None = None


class Decoration(msgspec.Struct, frozen=True, kw_only=True):
    product_id: str
    source: str  # the plugin
    badge: str = ""  # e.g. "秒杀", "拼团"
    activity_price: int | None = None  # fen
    activity: str = ""  # "<plugin>:<reference>" to buy it through


@dataclass
class CatalogView:
    tenant_id: str
    products: list[ProductCard]
    plugin_data: dict[str, Any] = field(default_factory=dict)


class Benefit(msgspec.Struct, frozen=True, kw_only=True):
    """A line in the member centre: "Level Gold: 5% off", "320 points"."""

    source: str
    title: str
    detail: str = ""
