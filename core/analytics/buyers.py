"""What the analytics API and console read about buyers: repurchase within a window,
first-purchase cohorts, the RFM segments with their trends, and a member's scores.

Repurchase reads the purchases of its window; everything else reads what the nightly RFM
job stored (``analytics_member_rfm``, ``analytics_segment_days``, ``analytics_cohorts``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select

from core.analytics import schemas as s
from core.analytics.events import day_bounds
from core.analytics.models import CohortCell, MemberRfm, SegmentDay
from core.analytics.periods import date_range, ratio
from core.analytics.rfm import purchases
from core.auth import require_staff
from core.context import TenantContext
from core.errors import Invalid, NotFound
from core.members.models import Member
from core.orders.models import Order
from core.paging import Page, keyset_page_of, keyset_paged

MAX_WITHIN_DAYS = 365
TREND_DAYS = 30
COHORT_MONTHS = 12  # months after the cohort month shown


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


def ensure_segment(segment: str) -> str:
    if segment not in s.SEGMENTS:
        raise NotFound(f"no segment {segment!r}", code="analytics.unknown_segment")
    return segment
