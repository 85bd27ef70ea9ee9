"""The hand-computed analytics fixture: eight members, fourteen orders, two refunds and two
days of storefront traffic over 60 days (2025-09-01 … 2025-10-30, China time), written
straight to the tables (the subject is what analytics makes of them, not how they were
made; tests/analytics/test_events.py covers recording over HTTP). The expected figures are
worked out by hand in test_figures.py."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.analytics.models import TrafficCount, VisitorDay
from core.catalog.models import Sku
from core.orders.models import Order, OrderLine
from core.payments.models import Payment, Refund
from core.runtime import Runtime
from storeplug.testing import Merchant, make_member
from tests.commerce.orders_support import make_sku

CST = timezone(timedelta(hours=8))
FIRST = date(2025, 9, 1)
LAST = date(2025, 10, 30)


def day(n: int) -> date:
    """Day ``n`` of the fixture: day 1 is 2025-09-01."""
    return FIRST + timedelta(days=n - 1)


def at(d: date, hour: int, minute: int = 0) -> datetime:
    """``hour:minute`` China time on ``d``, as the UTC instant the database stores."""
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=CST).astimezone(UTC)


@dataclass
class Fixture:
    merchant: Merchant
    members: dict[str, str]  # letter -> member id
    skus: dict[str, Sku]  # P1, P2
    orders: dict[int, str] = field(default_factory=dict)  # fixture number -> order id


# (number, member, paid at (China time), paid fen, product, extra)
ORDERS: list[tuple[int, str, datetime, int, str, dict[str, Any]]] = [
    (1, "A", at(day(1), 10), 10000, "P1", {}),
    (2, "B", at(day(1), 23, 30), 5000, "P1", {}),  # late in the evening: still 09-01
    (3, "A", at(day(3), 0, 10), 20000, "P1", {}),  # 09-02 16:10 UTC, yet 09-03 in China
    (4, "C", at(day(10), 12), 3000, "P1", {}),
    (5, "D", at(day(10), 12), 8000, "P1", {"refund": (day(12), 8000)}),  # wholly refunded
    (6, "E", at(day(20), 12), 15000, "P1", {"refund": (day(21), 5000)}),  # partly refunded
    (7, "B", at(day(25), 12), 5000, "P1", {}),
    (8, "F", at(day(31), 0, 10), 2000, "P1", {}),  # 10-01 China time, 09-30 in UTC
    (9, "A", at(day(45), 12), 30000, "P1", {"coupon": 3000}),
    (10, "G", at(day(50), 12), 1000, "P1", {}),
    (11, "C", at(day(55), 12), 4000, "P1", {}),
    (12, "E", at(day(58), 12), 6000, "P1", {}),
    (13, "G", at(day(59), 12), 1500, "P1", {"unpaid": True}),  # placed, then cancelled
    # a flash-sale line (4000 → 3000) paid partly with points (500 off): 2500 paid
    (14, "F", at(day(60), 12), 2500, "P2", {"flash": 1000, "points": 500}),
]


async def insert_order(
    rt: Runtime,
    merchant: Merchant,
    member_id: str,
    paid_at: datetime,
    paid: int,
    sku: Sku,
    extra: dict[str, Any],
) -> str:
    """A paid order (placed five minutes before ``paid_at``); ``extra`` may ask for a refund
    ``(day, fen)`` (whole if it is all of it), a coupon, a flash-sale line with points, or
    an order never paid."""
    unpaid = extra.get("unpaid", False)
    line_adjustments: list[dict[str, Any]] = []
    order_adjustments: list[dict[str, Any]] = []
    line_total = paid
    items_total = paid
    if "flash" in extra:
        items_total = paid + extra["flash"] + extra["points"]
        line_total = paid + extra["points"]
        flash = {
            "source": "flashsale",
            "label": "秒杀价",
            "amount": -extra["flash"],
            "stage": "line",
        }
        points = {
            "source": "points",
            "label": "积分抵扣",
            "amount": -extra["points"],
            "stage": "points",
        }
        line_adjustments = [flash]
        order_adjustments = [flash, points]
    if "coupon" in extra:
        items_total = paid + extra["coupon"]
        coupon = {
            "source": "coupon:C1",
            "label": "满330减30",
            "amount": -extra["coupon"],
            "stage": "coupon",
        }
        line_adjustments = [coupon]
        order_adjustments = [coupon]
    refund_day, refund_amount = extra.get("refund", (None, 0))
    whole = refund_amount == paid
    async with rt.db.tenant_session(merchant.id) as session:
        order = Order(
            number=f"T{secrets.randbelow(10**18):018d}",
            member_id=member_id,
            status="cancelled" if unpaid else ("refunded" if whole else "completed"),
            items_total=items_total,
            discount_total=items_total - paid,
            payable=paid,
            paid_amount=0 if unpaid else paid,
            refunded_amount=refund_amount,
            refund_held=refund_amount,
            adjustments=order_adjustments,
            payment_deadline=paid_at + timedelta(minutes=10),
            paid_at=None if unpaid else paid_at,
            cancelled_at=paid_at + timedelta(minutes=10) if unpaid else None,
            created_at=paid_at - timedelta(minutes=5),
        )
        session.add(order)
        await session.flush()
        session.add(
            OrderLine(
                order_id=order.id,
                sku_id=sku.id,
                product_id=sku.product_id,
                title=sku.product_id,
                unit_price=items_total,
                quantity=1,
                line_total=line_total,
                adjustments=line_adjustments,
                activity="flashsale:ACT1" if "flash" in extra else "",
                refunded_quantity=1 if whole else 0,
                refund_held_quantity=1 if whole else 0,
            )
        )
        if refund_day is not None:
            await _refund(session, order, refund_day, refund_amount)
        return order.id


async def add_refund(rt: Runtime, merchant: Merchant, order_id: str, on: date, amount: int) -> None:
    """A refund of ``amount`` that succeeded on ``on`` (China time)."""
    async with rt.db.tenant_session(merchant.id) as session:
        order = await session.get(Order, (merchant.id, order_id))
        assert order is not None
        order.refunded_amount += amount
        order.refund_held += amount
        await _refund(session, order, on, amount)


async def _refund(session: AsyncSession, order: Order, on: date, amount: int) -> None:
    assert order.paid_at is not None
    payment = Payment(
        order_id=order.id,
        member_id=order.member_id,
        provider="sandbox",
        amount=order.paid_amount,
        status="succeeded",
        expires_at=order.paid_at,
        paid_amount=order.paid_amount,
        paid_at=order.paid_at,
    )
    session.add(payment)
    await session.flush()
    session.add(
        Refund(
            order_id=order.id,
            payment_id=payment.id,
            member_id=order.member_id,
            provider="sandbox",
            amount=amount,
            status="succeeded",
            whole_order=amount == order.paid_amount,
            requested_by="staff:fixture",
            created_at=at(on, 9),
            succeeded_at=at(on, 10),
        )
    )


def _visitors(d: date, stages: dict[str, int]) -> list[VisitorDay]:
    return [VisitorDay(day=d, visitor=key, stages=bits) for key, bits in stages.items()]


async def seed(rt: Runtime, merchant: Merchant) -> Fixture:
    members = {}
    for letter in "ABCDEFGH":
        members[letter] = (await make_member(rt, merchant, nickname=f"member {letter}")).id
    skus = {
        "P1": await make_sku(rt, merchant, price=1000, stock=1000, title="P1 纯棉T恤"),
        "P2": await make_sku(rt, merchant, price=4000, stock=1000, title="P2 秒杀保温杯"),
    }
    fx = Fixture(merchant=merchant, members=members, skus=skus)
    for number, letter, paid_at, paid, product, extra in ORDERS:
        fx.orders[number] = await insert_order(
            rt, merchant, members[letter], paid_at, paid, skus[product], extra
        )
    p1, p2 = skus["P1"].product_id, skus["P2"].product_id
    a, b, f, g, h = (f"m:{members[x]}" for x in "ABFGH")
    async with rt.db.tenant_session(merchant.id) as session:
        # Day 1: six visitors; four opened a product, A and B added to the cart.
        session.add_all(
            _visitors(
                day(1), {a: 7, b: 7, h: 3, "v:anon-0001": 1, "v:anon-0002": 3, "v:anon-0003": 1}
            )
        )
        session.add_all(
            [
                TrafficCount(day=day(1), product_id="", source="direct", list_views=10),
                TrafficCount(day=day(1), product_id=p1, source="direct", views=8, cart_adds=2),
                TrafficCount(day=day(1), product_id=p1, source="share", views=3, cart_adds=1),
            ]
        )
        # Day 60: three visitors; F and G opened the flash-sale product, F added it.
        session.add_all(_visitors(day(60), {f: 7, g: 3, "v:anon-0004": 1}))
        session.add_all(
            [
                TrafficCount(day=day(60), product_id="", source="direct", list_views=4),
                TrafficCount(day=day(60), product_id=p2, source="flashsale", views=5, cart_adds=1),
            ]
        )
    return fx
