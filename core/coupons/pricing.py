"""The coupon math: which of a member's coupons applies to a cart, what it takes off, and how
the discount is split over the lines. Pure functions of a ``CartView`` (no database), used
by the deciding hooks in ``core.coupons.defaults``.

One coupon per order. ``cart.options["coupon_id"]`` chooses: a member coupon id picks that
coupon, ``""`` or absent picks the best applicable one, ``"none"`` uses none.

A coupon works on the totals of its in-scope lines after the promotion stage (the member
level discount included): ``eligible``. Every kind needs ``eligible >= min_spend``; then

- ``fixed`` takes ``amount`` off (at most ``eligible``);
- ``percent`` takes ``floor(eligible × percent_off / 100)``, at most ``max_discount``;
- ``threshold`` (满减) takes ``amount`` off (at most ``eligible``);
- ``free_shipping`` waives the chosen delivery's fee, in the fees stage.

The best coupon is the one that saves the buyer most, delivery included: a free-shipping
coupon saves the express fee the order would pay, and an amount off that takes the order under
the store's free-shipping threshold is counted less the fee it brings back. The decision reads
the promotion-stage prices only, so the coupon stage and the fees stage, which both ask, reach
the same answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from core.cart.defaults import core_data
from core.commerce import STAGES, Adjustment, CartView, LineProblem

PLUGIN_DATA = "coupons"  # cart.plugin_data key
SOURCE_PREFIX = "coupon:"
AUTO, NO_COUPON = "", "none"
# Whole-cart problems carry an empty line_key.
CART = ""
_UP_TO_PROMOTION = frozenset(STAGES[: STAGES.index("promotion") + 1])


class CouponTerms(msgspec.Struct, frozen=True, kw_only=True):
    """A member's usable coupon with its template's terms, as ``load_cart_data`` found it."""

    id: str  # the member coupon
    template_id: str
    name: str
    kind: str
    amount: int = 0
    percent_off: int = 0
    max_discount: int | None = None
    min_spend: int = 0
    scope: str = "all"
    scope_ids: frozenset[str] = frozenset()  # categories already expanded to subcategories
    valid_until: datetime


class CouponsData(msgspec.Struct, frozen=True, kw_only=True):
    """``cart.plugin_data["coupons"]``: the member's coupons usable now."""

    coupons: tuple[CouponTerms, ...] = ()


def coupons_data(cart: CartView) -> CouponsData:
    data = cart.plugin_data.get(PLUGIN_DATA)
    return data if isinstance(data, CouponsData) else CouponsData()


# ---- labels -------------------------------------------------------------------------------


def yuan(fen: int) -> str:
    """1000 → "10", 1050 → "10.5", 1005 → "10.05"."""
    whole, cents = divmod(fen, 100)
    if cents == 0:
        return str(whole)
    return f"{whole}.{cents:02d}".rstrip("0")


def label(kind: str, amount: int, percent_off: int, min_spend: int) -> str:
    """What the buyer reads: "满100减20", "8.5折", "立减5元", "免运费"."""
    if kind == "threshold":
        return f"满{yuan(min_spend)}减{yuan(amount)}"
    if kind == "percent":
        rate = 100 - percent_off
        tenths = str(rate // 10) if rate % 10 == 0 else f"{rate // 10}.{rate % 10}"
        return f"{tenths}折"
    if kind == "free_shipping":
        return "免运费"
    return f"立减{yuan(amount)}元"


def coupon_label(coupon: CouponTerms) -> str:
    return label(coupon.kind, coupon.amount, coupon.percent_off, coupon.min_spend)


# ---- eligibility --------------------------------------------------------------------------


def in_scope(coupon: CouponTerms, product_id: str, category_id: str | None) -> bool:
    if coupon.scope == "products":
        return product_id in coupon.scope_ids
    if coupon.scope == "categories":
        return category_id is not None and category_id in coupon.scope_ids
    return True


def promoted_totals(cart: CartView) -> dict[str, int]:
    """Each line's total after the line and promotion stages (what a coupon works on)."""
    totals = {line.key: line.base_total for line in cart.lines}
    for a in cart.adjustments:
        if a.line_key in totals and a.stage in _UP_TO_PROMOTION:
            totals[a.line_key] += a.amount
    return {key: max(total, 0) for key, total in totals.items()}


def eligible_lines(coupon: CouponTerms, cart: CartView) -> list[tuple[str, int]]:
    """(line key, promoted total) of the lines the coupon covers, in cart order."""
    totals = promoted_totals(cart)
    return [
        (line.key, totals[line.key])
        for line in cart.lines
        if in_scope(coupon, line.product_id, line.category_id)
    ]


def unusable_reason(coupon: CouponTerms, cart: CartView) -> str | None:
    """Why ``coupon`` cannot be used on this cart (None: it can)."""
    lines = eligible_lines(coupon, cart)
    if not lines:
        return "this coupon does not cover any item in the order"
    eligible = sum(total for _, total in lines)
    if eligible < coupon.min_spend:
        short = coupon.min_spend - eligible
        return f"spend {yuan(short)} yuan more on the items it covers to use this coupon"
    return None


def discount(coupon: CouponTerms, eligible: int) -> int:
    """Fen off an eligible total that reaches the minimum spend (not for free shipping)."""
    if coupon.kind == "percent":
        off = eligible * coupon.percent_off // 100  # floored: never a fen more than the percent
        if coupon.max_discount is not None:
            off = min(off, coupon.max_discount)
    elif coupon.kind in ("fixed", "threshold"):
        off = coupon.amount
    else:
        return 0
    return max(min(off, eligible), 0)


def express_fee(cart: CartView, total: int) -> int:
    """The core's express fee for an order of ``total`` after the coupon stage (0 for any other
    method): what the fees stage will charge, known before it."""
    if cart.fulfillment != "express":
        return 0
    data = core_data(cart)
    threshold = data.free_shipping_threshold
    if data.shipping_fee <= 0 or (threshold is not None and total >= threshold):
        return 0
    return data.shipping_fee


def saving(coupon: CouponTerms, cart: CartView) -> int:
    """What the coupon would save the buyer on this cart (0 when it cannot be used). A free
    shipping coupon saves the fee; an amount off saves the amount, less the fee it brings
    back when it takes the order under the free-shipping threshold (so it may be negative)."""
    if unusable_reason(coupon, cart) is not None:
        return 0
    promoted = cart.total_after("promotion")
    fee = express_fee(cart, promoted)
    if coupon.kind == "free_shipping":
        return fee
    off = discount(coupon, sum(total for _, total in eligible_lines(coupon, cart)))
    return off + fee - express_fee(cart, promoted - off)


# ---- the decision -------------------------------------------------------------------------


def choice(cart: CartView) -> Any:
    """The buyer's ``options.coupon_id`` (untrusted JSON): AUTO when absent or null."""
    value = cart.options.get("coupon_id")
    return AUTO if value is None else value


def best(coupons: tuple[CouponTerms, ...], cart: CartView) -> CouponTerms | None:
    """The coupon that saves most (nothing if none saves anything); ties go to the one that
    expires first, then the id."""
    ranked = [(saving(c, cart), c) for c in coupons]
    ranked = [(amount, c) for amount, c in ranked if amount > 0]
    if not ranked:
        return None
    return min(ranked, key=lambda pair: (-pair[0], pair[1].valid_until, pair[1].id))[1]


def decide(cart: CartView) -> CouponTerms | None:
    """The coupon this cart uses, if any."""
    chosen = choice(cart)
    coupons = coupons_data(cart).coupons
    if chosen == AUTO:
        return best(coupons, cart)
    coupon = next((c for c in coupons if c.id == chosen), None)
    if coupon is None or unusable_reason(coupon, cart) is not None:
        return None
    return coupon


def choice_problem(cart: CartView) -> LineProblem | None:
    """A chosen coupon that cannot be used is a problem on the whole cart."""
    chosen = choice(cart)
    if chosen in (AUTO, NO_COUPON):
        return None
    reason: str | None
    if not isinstance(chosen, str):
        reason = 'coupon_id is a coupon id, "" for the best one or "none"'
    else:
        coupon = next((c for c in coupons_data(cart).coupons if c.id == chosen), None)
        reason = (
            "this coupon cannot be used: it is not yours, has been used, is held by another "
            "order or is not valid now"
            if coupon is None
            else unusable_reason(coupon, cart)
        )
    if reason is None:
        return None
    return LineProblem(line_key=CART, code="coupon.unavailable", message=reason)


# ---- adjustments --------------------------------------------------------------------------


def split(total: int, weights: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """``total`` split over the keys in proportion to their weights (largest remainder): the
    parts sum to exactly ``total``, and no part exceeds its weight when total ≤ Σ weights."""
    whole = sum(weight for _, weight in weights)
    if whole <= 0 or total <= 0:
        return []
    parts = [(key, total * weight // whole, total * weight % whole) for key, weight in weights]
    left = total - sum(part for _, part, _ in parts)
    # The biggest remainders get the leftover fen, one each; ties in cart order.
    order = sorted(range(len(parts)), key=lambda i: -parts[i][2])
    bonus = set(order[:left])
    return [(key, part + (1 if i in bonus else 0)) for i, (key, part, _) in enumerate(parts)]


def source_of(coupon: CouponTerms) -> str:
    return f"{SOURCE_PREFIX}{coupon.id}"


def coupon_stage(cart: CartView) -> list[Adjustment]:
    """The coupon stage: the chosen coupon's discount, one adjustment per covered line."""
    coupon = decide(cart)
    if coupon is None or coupon.kind == "free_shipping":
        return []
    lines = eligible_lines(coupon, cart)
    off = discount(coupon, sum(total for _, total in lines))
    return [
        Adjustment(
            source=source_of(coupon),
            label=coupon_label(coupon),
            amount=-part,
            stage="coupon",
            line_key=key,
        )
        for key, part in split(off, lines)
        if part > 0
    ]


def fees_stage(cart: CartView) -> list[Adjustment]:
    """The fees stage: a free-shipping coupon waives the chosen, available option's fee."""
    coupon = decide(cart)
    chosen = cart.chosen_option()
    if coupon is None or coupon.kind != "free_shipping" or chosen is None:
        return []
    if not chosen.available or chosen.fee <= 0:
        return []
    return [
        Adjustment(
            source=source_of(coupon), label=coupon_label(coupon), amount=-chosen.fee, stage="fees"
        )
    ]


def applied_coupon_ids(cart: CartView) -> set[str]:
    """The member coupons that took money off this priced cart (to lock when placing)."""
    known = {c.id for c in coupons_data(cart).coupons}
    found = {
        a.source.removeprefix(SOURCE_PREFIX)
        for a in cart.adjustments
        if a.source.startswith(SOURCE_PREFIX) and a.amount < 0
    }
    return found & known
