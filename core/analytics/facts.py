"""The shapes the analytics hooks exchange: where traffic and orders come from
(``analytics_sources``) and what a plugin says it contributed to a day's paid orders
(``analytics_contributions``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec


class TrafficSource(msgspec.Struct, frozen=True, kw_only=True):
    """A source a plugin (or the core) names: a storefront visit may be tagged with it, and
    the dashboard shows its ``label``."""

    name: str  # lowercase letters, digits and "_", at most 20: "flashsale", "share"
    label: str  # for the merchant: "秒杀", "分享"


class LineFacts(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    product_id: str
    sku_id: str
    activity: str  # "" or "<plugin>:<activity id>", as the line was bought
    quantity: int
    line_total: int  # fen, after the line's own adjustments
    adjustments: list[Any]


class OrderFacts(msgspec.Struct, frozen=True, kw_only=True):
    """A paid order as the analytics rollup sees it (read only)."""

    id: str
    member_id: str
    paid_amount: int  # fen
    items_total: int
    discount_total: int
    fulfillment: str
    fulfillment_data: dict[str, Any]
    adjustments: list[Any]  # the order's price adjustments: source, label, amount, stage
    lines: list[LineFacts]


class Contribution(msgspec.Struct, frozen=True, kw_only=True):
    """One plugin's part in one paid order: ``gmv`` is the fen of the order that came
    through it (the flash-sale lines, the whole order of a leader's pickup point), and
    ``benefit`` what it gave the buyer (the points deduction, a coupon's value)."""

    source: str  # a name from ``analytics_sources``
    order_id: str
    gmv: int
    benefit: int = 0


def _of(source: Any, name: str) -> bool:
    text = str(source or "")
    return text == name or text.startswith(f"{name}:")


def activity_contributions(orders: Sequence[OrderFacts], name: str) -> list[Contribution]:
    """For a plugin whose lines carry ``activity = "<name>:<id>"`` (a flash sale, a
    group-buy): the GMV of those lines, and the price cut its own adjustments gave them."""
    found = []
    for order in orders:
        lines = [line for line in order.lines if _of(line.activity, name)]
        if lines:
            cut = -sum(
                int(a.get("amount", 0))
                for line in lines
                for a in line.adjustments
                if _of(a.get("source"), name)
            )
            found.append(
                Contribution(
                    source=name,
                    order_id=order.id,
                    gmv=sum(line.line_total for line in lines),
                    benefit=max(cut, 0),
                )
            )
    return found


def adjustment_contributions(orders: Sequence[OrderFacts], name: str) -> list[Contribution]:
    """For a plugin that takes money off orders (points, coupons; adjustment source
    ``<name>`` or ``<name>:<id>``): the orders it discounted, their paid amount, and the
    discount."""
    found = []
    for order in orders:
        off = -sum(int(a.get("amount", 0)) for a in order.adjustments if _of(a.get("source"), name))
        if off > 0:
            found.append(
                Contribution(source=name, order_id=order.id, gmv=order.paid_amount, benefit=off)
            )
    return found
