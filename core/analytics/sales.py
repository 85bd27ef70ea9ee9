"""The console dashboard's sales summary: GMV, paid orders, paying members, average order value and
refunds for today and the last 7 and 30 days, and GMV and paid orders by day.

It reads the daily rollups (``core.analytics.service.load_range``): stored days, and today (or
any day not rolled up yet) computed live by the same function the rollup job uses, so its cost
grows with days, never with orders. Days are China-time calendar days; paying members are
counted once a day, like every range of the analytics API.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import msgspec

from core.analytics.service import Lens, day_rows, load_range
from core.auth import require_staff
from core.context import TenantContext
from core.wechatpay_schemas import CHINA

PERIODS = (1, 7, 30)


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    """Trade over one period of China-time days, money in fen."""

    days: int  # 1 is today
    gmv: int  # paid by buyers for orders paid in the period
    paid_orders: int
    paying_members: int  # each day's distinct payers, added up
    average_order_value: int  # gmv // paid_orders, 0 without orders
    refunds: int  # paid back by refunds that succeeded in the period
    refund_count: int  # orders refunded (each day's, added up)


class DayPoint(msgspec.Struct, frozen=True, kw_only=True):
    day: date
    gmv: int
    paid_orders: int


class SalesSummary(msgspec.Struct, frozen=True, kw_only=True):
    today: date
    periods: list[Figures]  # today, 7 days, 30 days
    daily: list[DayPoint]  # the last 30 days, oldest first, days without sales included


def china_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(CHINA).date()


def day_start(day: date) -> datetime:
    """00:00 China time of ``day``, as UTC."""
    return datetime.combine(day, time(), tzinfo=CHINA).astimezone(UTC)


async def sales_summary(ctx: TenantContext, now: datetime | None = None) -> SalesSummary:
    """What the dashboard shows; any staff role may see it."""
    require_staff(ctx, "clerk")
    today = china_today(now)
    first = today - timedelta(days=PERIODS[-1] - 1)
    data = await load_range(ctx, Lens(hooks=ctx.hooks, labels={}), first, today)
    rows = day_rows(data)
    refunds = {day: row.refund_orders for day, row in data.stored.items()}
    refunds |= {day: row.refund_orders for day, row in data.live.items()}
    periods = []
    for days in PERIODS:
        window = rows[-days:]
        gmv = sum(r.gmv for r in window)
        orders = sum(r.paid_orders for r in window)
        periods.append(
            Figures(
                days=days,
                gmv=gmv,
                paid_orders=orders,
                paying_members=sum(r.paying_members for r in window),
                average_order_value=gmv // orders if orders else 0,
                refunds=sum(r.refunded for r in window),
                refund_count=sum(refunds[r.day] for r in window),
            )
        )
    return SalesSummary(
        today=today,
        periods=periods,
        daily=[DayPoint(day=r.day, gmv=r.gmv, paid_orders=r.paid_orders) for r in rows],
    )
