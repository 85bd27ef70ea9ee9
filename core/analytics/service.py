"""What the analytics API and console read of a date range: its figures from the stored
rollups (plus today, and any day not rolled up yet, computed live), the previous period for
comparison, top products and sources. Buyers' figures (repurchase, cohorts, segments, a
member's scores) are in ``buyers``; the CSV tables in ``export``.

Every read here touches rollup rows (one per day, per product-day, per source-day), never
the orders behind them, except the live days (today).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select

from core.analytics import schemas as s
from core.analytics.buyers import segment_sizes
from core.analytics.models import (
    DayRollup,
    ProductDay,
    SourceDay,
)
from core.analytics.periods import date_range, ratio
from core.analytics.rollup import compute_day, empty_day, first_activity
from core.auth import require_staff
from core.catalog.models import Product
from core.context import TenantContext
from core.plugins import TenantHooks

TOP_PRODUCTS = 10

SUMMED = (
    "gmv",
    "net_revenue",
    "refunded",
    "refund_orders",
    "paid_orders",
    "paying_members",
    "new_buyers",
    "returning_buyers",
    "visitors",
    "product_viewers",
    "cart_members",
    "ordering_members",
    "list_views",
    "product_views",
    "cart_adds",
    "orders_placed",
)


@dataclass(frozen=True)
class Lens:
    """What reading analytics needs beyond the tenant: every installed plugin's hooks (for
    live days) and the labels of the traffic and order sources."""

    hooks: TenantHooks
    labels: Mapping[str, str]


def _change(now: int, before: int) -> tuple[int, float | None]:
    return now - before, (round((now - before) / before, 4) if before else None)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@dataclass
class Range:
    start: date
    end: date
    stored: dict[date, DayRollup]
    live: dict[date, s.DayFigures]  # not stored: computed now, or empty (before any activity)
    computed: int


async def load_range(ctx: TenantContext, lens: Lens, start: date, end: date) -> Range:
    stored = {
        row.day: row
        for row in await ctx.session.scalars(
            select(DayRollup).where(DayRollup.day >= start, DayRollup.day <= end)
        )
    }
    live = {}
    computed = 0
    missing = [day for day in _days(start, end) if day not in stored]
    first = await first_activity(ctx.session) if missing else None
    for day in missing:  # today, or a day the job has not rolled up yet
        if first is None or day < first:
            live[day] = empty_day(day)
        else:
            live[day] = await compute_day(ctx, day, lens.hooks)
            computed += 1
    return Range(start=start, end=end, stored=stored, live=live, computed=computed)


def _sums(data: Range) -> dict[str, int]:
    sums = dict.fromkeys(SUMMED, 0)
    for row in [*data.stored.values(), *data.live.values()]:
        for name in SUMMED:
            sums[name] += getattr(row, name)
    return sums


def _totals(data: Range) -> s.Totals:
    t = _sums(data)
    return s.Totals(
        start=data.start,
        end=data.end,
        gmv=t["gmv"],
        net_revenue=t["net_revenue"],
        refunded=t["refunded"],
        refund_orders=t["refund_orders"],
        refund_rate=ratio(t["refunded"], t["gmv"]),
        paid_orders=t["paid_orders"],
        paying_members=t["paying_members"],
        new_buyers=t["new_buyers"],
        returning_buyers=t["returning_buyers"],
        aov=t["gmv"] // t["paid_orders"] if t["paid_orders"] else 0,
        list_views=t["list_views"],
        product_views=t["product_views"],
        cart_adds=t["cart_adds"],
        orders_placed=t["orders_placed"],
        funnel=s.Funnel(
            visitors=t["visitors"],
            product_viewers=t["product_viewers"],
            cart_members=t["cart_members"],
            ordering_members=t["ordering_members"],
            paying_members=t["paying_members"],
            view_rate=ratio(t["product_viewers"], t["visitors"]),
            cart_rate=ratio(t["cart_members"], t["product_viewers"]),
            order_rate=ratio(t["ordering_members"], t["cart_members"]),
            pay_rate=ratio(t["paying_members"], t["ordering_members"]),
            conversion=ratio(t["paying_members"], t["visitors"]),
        ),
    )


def _compare(now: s.Totals, before: s.Totals) -> s.Change:
    gmv, gmv_ratio = _change(now.gmv, before.gmv)
    net, net_ratio = _change(now.net_revenue, before.net_revenue)
    orders, orders_ratio = _change(now.paid_orders, before.paid_orders)
    payers, payers_ratio = _change(now.paying_members, before.paying_members)
    aov, aov_ratio = _change(now.aov, before.aov)
    visitors, visitors_ratio = _change(now.funnel.visitors, before.funnel.visitors)
    return s.Change(
        gmv=gmv,
        gmv_ratio=gmv_ratio,
        net_revenue=net,
        net_revenue_ratio=net_ratio,
        paid_orders=orders,
        paid_orders_ratio=orders_ratio,
        paying_members=payers,
        paying_members_ratio=payers_ratio,
        aov=aov,
        aov_ratio=aov_ratio,
        visitors=visitors,
        visitors_ratio=visitors_ratio,
        conversion=round(now.funnel.conversion - before.funnel.conversion, 4),
    )


def _day_out(row: DayRollup | s.DayFigures, live: bool) -> s.DayOut:
    return s.DayOut(
        day=row.day,
        gmv=row.gmv,
        net_revenue=row.net_revenue,
        refunded=row.refunded,
        paid_orders=row.paid_orders,
        paying_members=row.paying_members,
        new_buyers=row.new_buyers,
        returning_buyers=row.returning_buyers,
        aov=row.gmv // row.paid_orders if row.paid_orders else 0,
        visitors=row.visitors,
        product_viewers=row.product_viewers,
        cart_members=row.cart_members,
        ordering_members=row.ordering_members,
        product_views=row.product_views,
        cart_adds=row.cart_adds,
        orders_placed=row.orders_placed,
        live=live,
    )


def day_rows(data: Range) -> list[s.DayOut]:
    rows = [_day_out(r, False) for r in data.stored.values()]
    rows += [_day_out(r, True) for r in data.live.values()]
    return sorted(rows, key=lambda r: r.day)


PRODUCT_SUMS = ("views", "cart_adds", "paid_orders", "units", "sales")
SOURCE_SUMS = ("list_views", "views", "cart_adds", "orders", "gmv", "benefit")


async def _products(ctx: TenantContext, data: Range, limit: int) -> list[s.ProductOut]:
    sums: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(PRODUCT_SUMS, 0))
    if data.stored:
        rows = await ctx.session.execute(
            select(ProductDay.product_id, *(func.sum(getattr(ProductDay, n)) for n in PRODUCT_SUMS))
            .where(ProductDay.day >= data.start, ProductDay.day <= data.end)
            .group_by(ProductDay.product_id)
        )
        for product_id, *values in rows:
            sums[product_id] = dict(zip(PRODUCT_SUMS, map(int, values), strict=True))
    for figures in data.live.values():
        for p in figures.products:
            for name in PRODUCT_SUMS:
                sums[p.product_id][name] += getattr(p, name)
    top = sorted(sums.items(), key=lambda kv: (-kv[1]["sales"], -kv[1]["views"], kv[0]))[:limit]
    titles = (
        dict(
            (
                await ctx.session.execute(
                    select(Product.id, Product.title).where(Product.id.in_([pid for pid, _ in top]))
                )
            ).all()
        )
        if top
        else {}
    )
    return [
        s.ProductOut(product_id=pid, title=titles.get(pid, ""), **values) for pid, values in top
    ]


async def _sources(ctx: TenantContext, lens: Lens, data: Range) -> list[s.SourceOut]:
    sums: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SOURCE_SUMS, 0))
    if data.stored:
        rows = await ctx.session.execute(
            select(SourceDay.source, *(func.sum(getattr(SourceDay, n)) for n in SOURCE_SUMS))
            .where(SourceDay.day >= data.start, SourceDay.day <= data.end)
            .group_by(SourceDay.source)
        )
        for source, *values in rows:
            sums[source] = dict(zip(SOURCE_SUMS, map(int, values), strict=True))
    for figures in data.live.values():
        for row in figures.sources:
            for name in SOURCE_SUMS:
                sums[row.source][name] += getattr(row, name)
    return [
        s.SourceOut(source=name, label=lens.labels.get(name, name), **values)
        for name, values in sorted(sums.items(), key=lambda kv: (-kv[1]["gmv"], kv[0]))
    ]


async def _range(ctx: TenantContext, lens: Lens, start: date | None, end: date | None) -> Range:
    require_staff(ctx, "manager")
    first, last = date_range(start, end)
    return await load_range(ctx, lens, first, last)


async def dashboard(
    ctx: TenantContext,
    lens: Lens,
    start: date | None = None,
    end: date | None = None,
    compare: bool = True,
) -> s.Dashboard:
    data = await _range(ctx, lens, start, end)
    totals = _totals(data)
    previous = change = None
    if compare:
        length = timedelta(days=(data.end - data.start).days + 1)
        before = await load_range(ctx, lens, data.start - length, data.start - timedelta(days=1))
        previous = _totals(before)
        change = _compare(totals, previous)
    segments = await segment_sizes(ctx)
    return s.Dashboard(
        totals=totals,
        previous=previous,
        change=change,
        days=day_rows(data),
        sources=await _sources(ctx, lens, data),
        top_products=await _products(ctx, data, TOP_PRODUCTS),
        segments=segments.segments,
        live_days=data.computed,
    )


async def days_table(
    ctx: TenantContext, lens: Lens, start: date | None = None, end: date | None = None
) -> list[s.DayOut]:
    return day_rows(await _range(ctx, lens, start, end))


async def products_table(
    ctx: TenantContext,
    lens: Lens,
    start: date | None = None,
    end: date | None = None,
    limit: int = 100,
) -> list[s.ProductOut]:
    return await _products(ctx, await _range(ctx, lens, start, end), limit)


async def sources_table(
    ctx: TenantContext, lens: Lens, start: date | None = None, end: date | None = None
) -> list[s.SourceOut]:
    return await _sources(ctx, lens, await _range(ctx, lens, start, end))


async def rolled_up(ctx: TenantContext, days: Sequence[date]) -> set[date]:
    if not days:
        return set()
    return set(
        (
            await ctx.session.scalars(select(DayRollup.day).where(DayRollup.day.in_(list(days))))
        ).all()
    )
