"""The console dashboard's sales summary: GMV, paid orders, paying members, average order value and
refunds for today and the last 7 and 30 days, and GMV by day.

Days are China-time calendar days (``core.console.render.CHINA``). Today this reads the
orders and refunds tables with one aggregate query per figure set; a store with a large
history wants daily rollups behind the same function, and the callers will not change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgspec
from sqlalchemy import func, select

from core.auth import require_staff
from core.context import TenantContext
from core.orders.models import Order
from core.payments.models import Refund
from core.wechatpay_schemas import CHINA

PERIODS = (1, 7, 30)


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    """Trade over one period of China-time days, money in fen."""

    days: int  # 1 is today
    gmv: int  # paid by buyers for orders paid in the period
    paid_orders: int
    paying_members: int
    average_order_value: int  # gmv // paid_orders, 0 without orders
    refunds: int  # paid back by refunds that succeeded in the period
    refund_count: int


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


def _local_day(ctx: TenantContext, column: Any) -> Any:
    """The China-time calendar day of a UTC timestamp column, in SQL."""
    if ctx.session.bind is not None and ctx.session.bind.dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Shanghai", column))
    return func.date(column, "+8 hours")


async def _figures(ctx: TenantContext, days: int, today: date) -> Figures:
    since, until = day_start(today - timedelta(days=days - 1)), day_start(today + timedelta(1))
    paid = (
        await ctx.session.execute(
            select(
                func.coalesce(func.sum(Order.paid_amount), 0),
                func.count(Order.id),
                func.count(func.distinct(Order.member_id)),
            ).where(Order.paid_at >= since, Order.paid_at < until)
        )
    ).one()
    refunded = (
        await ctx.session.execute(
            select(func.coalesce(func.sum(Refund.amount), 0), func.count(Refund.id)).where(
                Refund.status == "succeeded",
                Refund.succeeded_at >= since,
                Refund.succeeded_at < until,
            )
        )
    ).one()
    gmv, orders, members = int(paid[0]), int(paid[1]), int(paid[2])
    return Figures(
        days=days,
        gmv=gmv,
        paid_orders=orders,
        paying_members=members,
        average_order_value=gmv // orders if orders else 0,
        refunds=int(refunded[0]),
        refund_count=int(refunded[1]),
    )


async def _daily(ctx: TenantContext, days: int, today: date) -> list[DayPoint]:
    first = today - timedelta(days=days - 1)
    day = _local_day(ctx, Order.paid_at)
    rows = await ctx.session.execute(
        select(day, func.sum(Order.paid_amount), func.count(Order.id))
        .where(Order.paid_at >= day_start(first), Order.paid_at < day_start(today + timedelta(1)))
        .group_by(day)
    )
    by_day = {str(row[0]): (int(row[1] or 0), int(row[2])) for row in rows}
    points = []
    for offset in range(days):
        current = first + timedelta(days=offset)
        gmv, orders = by_day.get(current.isoformat(), (0, 0))
        points.append(DayPoint(day=current, gmv=gmv, paid_orders=orders))
    return points


async def sales_summary(ctx: TenantContext, now: datetime | None = None) -> SalesSummary:
    """What the dashboard shows; any staff role may see it."""
    require_staff(ctx, "clerk")
    today = china_today(now)
    return SalesSummary(
        today=today,
        periods=[await _figures(ctx, days, today) for days in PERIODS],
        daily=await _daily(ctx, PERIODS[-1], today),
    )
