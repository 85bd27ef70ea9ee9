"""Always-on hookimpls of the cart domain (registered as the core module "core.cart.defaults").

The core prices carts through the same hooks as the feature plugins:

- ``load_cart_data`` loads the store's shipping settings and the tenant's enabled plugins into
  ``cart.plugin_data["core"]`` (a ``CoreCartData``), so the deciding hooks below stay pure;
- ``validate_cart_line``: ``cart.off_shelf`` (product off the shelf or SKU inactive),
  ``cart.insufficient_stock`` (more than stock above safety stock), ``cart.limit_exceeded``
  (more than 999 of one line), ``cart.activity_unavailable`` (the activity's plugin is off);
- ``price_adjustments``: the member-level discount (promotion stage, ``core.level``), per line,
  on the line's price after the line stage, rounded down to the fen; and the chosen
  fulfillment's fee (fees stage, ``core.shipping``);
- ``fulfillment_options``: ``express`` at the store's flat fee, free once the cart's total
  after the coupon stage reaches the free-shipping threshold.
"""

from __future__ import annotations

from typing import Any

import msgspec

from core.commerce import Adjustment, CartView, FulfillmentOption, LineProblem, PricingLine
from core.context import TenantContext
from core.hookspecs import hookimpl
from core.store.models import StoreSettings

CORE = "core"
MAX_LINE_QUANTITY = 999


def _column_default(column: Any) -> Any:
    default = getattr(column, "default", None)
    return default.arg if default is not None and default.is_scalar else None


# The fee of a store that never saved its settings: the column's default.
DEFAULT_SHIPPING_FEE: int = _column_default(StoreSettings.__table__.c.shipping_fee) or 0


class CoreCartData(msgspec.Struct, frozen=True, kw_only=True):
    """What the core's deciding cart hooks read: ``cart.plugin_data["core"]``."""

    shipping_fee: int = DEFAULT_SHIPPING_FEE
    free_shipping_threshold: int | None = None
    enabled_plugins: frozenset[str] = frozenset()


def core_data(cart: CartView) -> CoreCartData:
    data = cart.plugin_data.get(CORE)
    return data if isinstance(data, CoreCartData) else CoreCartData()


@hookimpl
async def load_cart_data(ctx: TenantContext, cart: CartView) -> None:
    # Read only: a store that never saved its settings has the defaults (no row is created).
    row = await ctx.session.get(StoreSettings, ctx.tenant_id)
    cart.plugin_data[CORE] = CoreCartData(
        shipping_fee=row.shipping_fee if row is not None else DEFAULT_SHIPPING_FEE,
        free_shipping_threshold=row.free_shipping_threshold if row is not None else None,
        enabled_plugins=ctx.tenant.enabled_plugins,
    )


@hookimpl
def validate_cart_line(cart: CartView, line: PricingLine) -> list[LineProblem]:
    problems = []
    if not line.on_shelf:
        problems.append(
            LineProblem(
                line_key=line.key, code="cart.off_shelf", message="this item is not on sale"
            )
        )
    elif line.quantity > line.sellable:
        problems.append(
            LineProblem(
                line_key=line.key,
                code="cart.insufficient_stock",
                message=f"only {line.sellable} left",
            )
        )
    if line.quantity > MAX_LINE_QUANTITY:
        problems.append(
            LineProblem(
                line_key=line.key,
                code="cart.limit_exceeded",
                message=f"at most {MAX_LINE_QUANTITY} of one item",
            )
        )
    if line.activity:
        plugin = line.activity.partition(":")[0]
        if plugin not in core_data(cart).enabled_plugins:
            problems.append(
                LineProblem(
                    line_key=line.key,
                    code="cart.activity_unavailable",
                    message="this offer has ended",
                )
            )
    return problems


def level_label(percent: int) -> str:
    """5 → "会员9.5折", 10 → "会员9折", 100 → "会员免单"."""
    rate = 100 - percent
    if rate <= 0:
        return "会员免单"
    tenths = str(rate // 10) if rate % 10 == 0 else f"{rate // 10}.{rate % 10}"
    return f"会员{tenths}折"


def _level_discount(cart: CartView) -> list[Adjustment]:
    percent = min(cart.member.level_discount_percent, 100)
    if percent <= 0:
        return []
    label = level_label(percent)
    adjustments = []
    for line in cart.lines:
        if not line.level_discount:
            continue
        price = line.base_total + sum(
            a.amount for a in cart.adjustments if a.line_key == line.key and a.stage == "line"
        )
        off = max(price, 0) * percent // 100  # floored: never a fen more than the percent
        if off > 0:
            adjustments.append(
                Adjustment(
                    source="core.level",
                    label=label,
                    amount=-off,
                    stage="promotion",
                    line_key=line.key,
                )
            )
    return adjustments


def _shipping(cart: CartView) -> list[Adjustment]:
    chosen = cart.chosen_option()
    if chosen is None or not chosen.available or chosen.fee <= 0:
        return []
    return [Adjustment(source="core.shipping", label="运费", amount=chosen.fee, stage="fees")]


@hookimpl
def price_adjustments(stage: str, cart: CartView) -> list[Adjustment]:
    if stage == "promotion":
        return _level_discount(cart)
    if stage == "fees":
        return _shipping(cart)
    return []


@hookimpl
def fulfillment_options(cart: CartView) -> list[FulfillmentOption]:
    data = core_data(cart)
    threshold = data.free_shipping_threshold
    free = data.shipping_fee <= 0 or (
        threshold is not None and cart.total_after("coupon") >= threshold
    )
    return [FulfillmentOption(method="express", label="快递", fee=0 if free else data.shipping_fee)]
