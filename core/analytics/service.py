"""What the analytics API and console read: a date range's figures from the stored rollups
(plus today, and any day not rolled up yet, computed live), the previous period for
comparison, top products, sources, repurchase, cohorts, segments and a member's scores.

Every read here touches rollup rows (one per day, per product-day, per source-day, per
segment-day), never the orders behind them, except the live days (today) and repurchase,
which reads the purchases of its window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select

from core.analytics import schemas as s
from core.analytics.events import day_bounds, local_day
from core.analytics.models import (
    CohortCell,
    DayRollup,
    MemberRfm,
    ProductDay,
    SegmentDay,
    SourceDay,
)
from core.analytics.rfm import purchases
from core.analytics.rollup import compute_day, empty_day, first_activity
from core.auth import require_staff
from core.catalog.models import Product
from core.context import TenantContext
from core.errors import Invalid, NotFound
from core.members.models import Member
from core.orders.models import Order
from core.paging import Page, keyset_page_of, keyset_paged
from core.plugins import TenantHooks

MAX_DAYS = 366  # the longest range one request may ask for
DEFAULT_DAYS = 30
TOP_PRODUCTS = 10
MAX_WITHIN_DAYS = 365
TREND_DAYS = 30
COHORT_MONTHS = 12  # months after the cohort month shown

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


def ratio(part: int | float, whole: int | float) -> float:
    return round(part / whole, 4) if whole else 0.0


def _change(now: int, before: int) -> tuple[int, float | None]:
    return now - before, (round((now - before) / before, 4) if before else None)


def date_range(
    start: date | None, end: date | None, today: date | None = None
) -> tuple[date, date]:
    """The range asked for, checked: ``end`` defaults to today and is cut there, ``start`` to
    30 days before ``end``; at most 366 days."""
    today = today or local_day()
    end = min(end or today, today)
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise Invalid(
            "the range starts after it ends (or in the future)", code="analytics.invalid_range"
        )
    if (end - start).days + 1 > MAX_DAYS:
        raise Invalid(f"at most {MAX_DAYS} days at a time", code="analytics.range_too_long")
    return start, end


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


# ---- repurchase and cohorts ------------------------------------------------------------------


async def repurchase(
    ctx: TenantContext, start: date | None, end: date | None, within_days: int = 30
) -> s.Repurchase:
    """Of the members with a purchase in the range, the share who bought again within
    ``within_days`` after their first purchase in it (a later purchase may fall after the
    range). Reads the purchases of the range and the ``within_days`` after it."""
    require_staff(ctx, "manager")
    first, last = date_range(start, end)
    if not 1 <= within_days <= MAX_WITHIN_DAYS:
        raise Invalid(
            f"within_days runs from 1 to {MAX_WITHIN_DAYS}", code="analytics.invalid_window"
        )
    begin, _ = day_bounds(first)
    _, finish = day_bounds(last)
    # One pass over the purchases from the range's start to ``within_days`` after its end:
    # each member's first purchase there (which must fall in the range) and the next one.
    member, order = Order.member_id, (Order.paid_at, Order.id)
    rows = (
        select(
            Order.paid_at.label("paid_at"),
            func.lead(Order.paid_at).over(partition_by=member, order_by=order).label("next_paid"),
            func.row_number().over(partition_by=member, order_by=order).label("n"),
        )
        .where(
            purchases(ctx.tenant_id),
            Order.paid_at >= begin,
            Order.paid_at < finish + timedelta(days=within_days),
        )
        .subquery()
    )
    gap = _seconds_between(ctx, rows.c.paid_at, rows.c.next_paid)
    buyers, again = (
        await ctx.session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((gap <= within_days * 86400, 1), else_=0)), 0),
            ).where(rows.c.n == 1, rows.c.paid_at < finish)
        )
    ).one()
    return s.Repurchase(
        start=first,
        end=last,
        within_days=within_days,
        buyers=int(buyers),
        repurchasers=int(again),
        rate=ratio(int(again), int(buyers)),
    )


def _seconds_between(ctx: TenantContext, earlier: Any, later: Any) -> Any:
    """``later - earlier`` in seconds, in SQL (NULL when ``later`` is)."""
    if ctx.session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400


def _month_index(month: str) -> int:
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


async def cohorts(ctx: TenantContext, months: int = COHORT_MONTHS) -> s.Cohorts:
    """First-purchase-month cohorts (as of the last RFM computation): of each month's new
    buyers, how many bought again 1, 2, … ``months`` months later."""
    require_staff(ctx, "manager")
    cells: dict[str, dict[int, int]] = defaultdict(dict)
    for cohort, month, members in await ctx.session.execute(
        select(CohortCell.cohort, CohortCell.month, CohortCell.members)
    ):
        offset = _month_index(month) - _month_index(cohort)
        if 0 <= offset <= months:
            cells[cohort][offset] = members
    computed_at = await ctx.session.scalar(select(func.max(MemberRfm.computed_at)))
    rows = []
    for cohort in sorted(cells, reverse=True):
        size = cells[cohort].get(0, 0)
        retained = [cells[cohort].get(k, 0) for k in range(1, months + 1)]
        rows.append(
            s.CohortRow(
                cohort=cohort,
                members=size,
                retained=retained,
                rates=[ratio(n, size) for n in retained],
            )
        )
    return s.Cohorts(computed_at=computed_at, rows=rows)


# ---- segments --------------------------------------------------------------------------------


async def segment_sizes(ctx: TenantContext, trend_days: int = TREND_DAYS) -> s.Segments:
    """Every segment's size from the last computation, and its daily sizes before that."""
    require_staff(ctx, "manager")
    latest = await ctx.session.scalar(select(func.max(SegmentDay.day)))
    computed_at = await ctx.session.scalar(select(func.max(MemberRfm.computed_at)))
    sizes: dict[str, tuple[int, int]] = {}
    points: dict[str, list[s.SegmentPoint]] = defaultdict(list)
    if latest is not None:
        for day, segment, members, monetary in await ctx.session.execute(
            select(SegmentDay.day, SegmentDay.segment, SegmentDay.members, SegmentDay.monetary)
            .where(SegmentDay.day > latest - timedelta(days=trend_days))
            .order_by(SegmentDay.day)
        ):
            points[segment].append(s.SegmentPoint(day=day, members=members))
            if day == latest:
                sizes[segment] = (members, monetary)
    total = sum(n for n, _ in sizes.values())
    return s.Segments(
        computed_at=computed_at,
        members=total,
        segments=[
            s.SegmentOut(
                segment=code,
                label=label,
                members=sizes.get(code, (0, 0))[0],
                monetary=sizes.get(code, (0, 0))[1],
                share=ratio(sizes.get(code, (0, 0))[0], total),
            )
            for code, label in s.SEGMENTS.items()
        ],
        trends=[
            s.SegmentTrend(segment=code, label=label, points=points.get(code, []))
            for code, label in s.SEGMENTS.items()
        ],
    )


SEGMENT_ORDER = ((MemberRfm.monetary, True), (MemberRfm.member_id, False))


async def segment_members(
    ctx: TenantContext, segment: str, limit: int, cursor: str | None
) -> Page[s.SegmentMember]:
    """A segment's members, biggest spenders first."""
    require_staff(ctx, "manager")
    query = (
        select(MemberRfm, Member.nickname)
        .join(
            Member, and_(Member.tenant_id == MemberRfm.tenant_id, Member.id == MemberRfm.member_id)
        )
        .where(MemberRfm.segment == segment)
    )
    rows = (
        await ctx.session.execute(keyset_paged(query, SEGMENT_ORDER, limit, cursor, "seg"))
    ).all()

    def out(row: Any) -> s.SegmentMember:
        rfm, nickname = row
        return s.SegmentMember(
            member_id=rfm.member_id,
            nickname=nickname,
            r=rfm.r,
            f=rfm.f,
            m=rfm.m,
            orders=rfm.orders,
            monetary=rfm.monetary,
            last_paid_at=rfm.last_paid_at,
        )

    return keyset_page_of(rows, limit, out, lambda row: (row[0].monetary, row[0].member_id), "seg")


def rfm_out(row: MemberRfm) -> s.RfmOut:
    return s.RfmOut(
        segment=row.segment,
        label=s.SEGMENTS.get(row.segment, row.segment),
        r=row.r,
        f=row.f,
        m=row.m,
        orders=row.orders,
        monetary=row.monetary,
        first_paid_at=row.first_paid_at,
        last_paid_at=row.last_paid_at,
        computed_at=row.computed_at,
    )


async def member_rfm(ctx: TenantContext, member_id: str) -> s.RfmOut | None:
    """The member's scores, or None if they have bought nothing (as of the last run)."""
    row = await ctx.session.get(MemberRfm, (ctx.tenant_id, member_id))
    return None if row is None else rfm_out(row)


async def rolled_up(ctx: TenantContext, days: Sequence[date]) -> set[date]:
    if not days:
        return set()
    return set(
        (
            await ctx.session.scalars(select(DayRollup.day).where(DayRollup.day.in_(list(days))))
        ).all()
    )


def ensure_segment(segment: str) -> str:
    if segment not in s.SEGMENTS:
        raise NotFound(f"no segment {segment!r}", code="analytics.unknown_segment")
    return segment


TABLES = ("days", "products", "sources", "segments", "cohorts")


async def table(
    ctx: TenantContext,
    lens: Lens,
    name: str,
    start: date | None = None,
    end: date | None = None,
    months: int = COHORT_MONTHS,
) -> tuple[list[Any], str]:
    """Any table's rows and a file name for them (the CSV export of the API and console)."""
    rows: list[Any]
    if name == "days":
        rows = await days_table(ctx, lens, start, end)
    elif name == "products":
        rows = await products_table(ctx, lens, start, end, 1000)
    elif name == "sources":
        rows = await sources_table(ctx, lens, start, end)
    elif name == "segments":
        return (await segment_sizes(ctx)).segments, "segments"
    elif name == "cohorts":
        return (await cohorts(ctx, months)).rows, "cohorts"
    else:
        raise NotFound(f"no table {name!r}", code="analytics.unknown_table")
    first, last = date_range(start, end)
    return rows, f"{name}-{first}-{last}"
