"""Member-level analytics, recomputed set-wise in SQL (nightly, and on demand): RFM scores
and segments, the segments' daily sizes, and first-purchase-month cohorts.

A *purchase* is a paid order that was not wholly refunded; its money is what was paid less
any partial refund. Each score is the member's quintile within the store: members are ranked
ascending by their last purchase (R), their number of purchases (F) and their money (M), and
``score = 1 + 5 * (rank - 1) // members``; ties share the lower rank, so the many one-order
buyers all get F = 1. A score is *high* when it is above the store's average score, which is
how the eight classic segments split (重要价值客户: R, F and M all high, …, 一般挽留客户: all low).
The arithmetic is integer on both backends, so a hand-computed fixture gives the same answer.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, String, and_, case, delete, func, insert, literal, select, true

from core.analytics.events import local_day
from core.analytics.models import CohortCell, MemberRfm, SegmentDay
from core.context import TenantContext
from core.db import UtcDateTime, utcnow
from core.orders.models import Order

# (R high, F high, M high) -> segment
SEGMENT_OF: dict[tuple[bool, bool, bool], str] = {
    (True, True, True): "important_value",
    (True, False, True): "important_develop",
    (False, True, True): "important_keep",
    (False, False, True): "important_retain",
    (True, True, False): "general_value",
    (True, False, False): "general_develop",
    (False, True, False): "general_keep",
    (False, False, False): "general_retain",
}


def purchases(tenant_id: str) -> Any:
    """The WHERE of a tenant's purchases (explicit tenant: these statements are Core
    INSERT … SELECTs, which the ORM's tenant filter does not reach)."""
    return and_(
        Order.tenant_id == tenant_id, Order.paid_at.is_not(None), Order.status != "refunded"
    )


def _score(column: Any, members: Any) -> Any:
    return 1 + (5 * (func.rank().over(order_by=column) - 1)) // members


async def recompute(ctx: TenantContext, now: datetime | None = None) -> int:
    """Replace the store's RFM rows, today's segment sizes and the cohort table. Returns the
    members scored."""
    now = now or utcnow()
    tenant_id = ctx.tenant_id
    session = ctx.session
    agg = (
        select(
            Order.member_id,
            func.min(Order.paid_at).label("first_paid_at"),
            func.max(Order.paid_at).label("last_paid_at"),
            func.count().label("orders"),
            func.sum(Order.paid_amount - Order.refunded_amount).label("monetary"),
        )
        .where(purchases(tenant_id))
        .group_by(Order.member_id)
        .cte("agg")
    )
    members = func.count().over()
    scored = select(
        agg,
        _score(agg.c.last_paid_at, members).label("r"),
        _score(agg.c.orders, members).label("f"),
        _score(agg.c.monetary, members).label("m"),
    ).cte("scored")
    totals = select(
        func.sum(scored.c.r).label("sr"),
        func.sum(scored.c.f).label("sf"),
        func.sum(scored.c.m).label("sm"),
        func.count().label("n"),
    ).cte("totals")
    # high: the score above the average score, i.e. score * n > sum of scores (integers)
    high = (
        scored.c.r * totals.c.n > totals.c.sr,
        scored.c.f * totals.c.n > totals.c.sf,
        scored.c.m * totals.c.n > totals.c.sm,
    )
    segment = case(
        *(
            (and_(*(h if want else ~h for h, want in zip(high, key, strict=True))), name)
            for key, name in SEGMENT_OF.items()
            if key != (False, False, False)
        ),
        else_="general_retain",
    )
    rows = select(
        literal(tenant_id, String),
        scored.c.member_id,
        scored.c.first_paid_at,
        scored.c.last_paid_at,
        scored.c.orders,
        scored.c.monetary,
        scored.c.r,
        scored.c.f,
        scored.c.m,
        segment,
        literal(now, UtcDateTime),
    ).select_from(scored.join(totals, true()))
    await session.execute(delete(MemberRfm).execution_options(synchronize_session=False))
    columns = [
        "tenant_id",
        "member_id",
        "first_paid_at",
        "last_paid_at",
        "orders",
        "monetary",
        "r",
        "f",
        "m",
        "segment",
        "computed_at",
    ]
    await session.execute(insert(MemberRfm).from_select(columns, rows))
    await _snapshot_segments(ctx, local_day(now))
    await _cohorts(ctx)
    scored_members = await session.scalar(select(func.count()).select_from(MemberRfm))
    return int(scored_members or 0)


async def _snapshot_segments(ctx: TenantContext, day: date) -> None:
    tenant_id = ctx.tenant_id
    await ctx.session.execute(
        delete(SegmentDay).where(SegmentDay.day == day).execution_options(synchronize_session=False)
    )
    sizes = (
        select(
            literal(tenant_id, String),
            literal(day, Date),
            MemberRfm.segment,
            func.count(),
            func.coalesce(func.sum(MemberRfm.monetary), 0),
        )
        .where(MemberRfm.tenant_id == tenant_id)
        .group_by(MemberRfm.segment)
    )
    await ctx.session.execute(
        insert(SegmentDay).from_select(
            ["tenant_id", "day", "segment", "members", "monetary"], sizes
        )
    )


def month_of(ctx: TenantContext, moment: Any) -> Any:
    """``YYYY-MM`` of a stored UTC instant, in China time, in SQL."""
    if ctx.session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", moment), "YYYY-MM")
    return func.strftime("%Y-%m", moment, "+8 hours")


async def _cohorts(ctx: TenantContext) -> None:
    tenant_id = ctx.tenant_id
    month = month_of(ctx, Order.paid_at).label("month")
    bought = select(Order.member_id, month).where(purchases(tenant_id)).distinct().cte("bought")
    first = (
        select(bought.c.member_id, func.min(bought.c.month).label("cohort"))
        .group_by(bought.c.member_id)
        .cte("first")
    )
    cells = (
        select(literal(tenant_id, String), first.c.cohort, bought.c.month, func.count())
        .select_from(bought.join(first, bought.c.member_id == first.c.member_id))
        .group_by(first.c.cohort, bought.c.month)
    )
    await ctx.session.execute(delete(CohortCell).execution_options(synchronize_session=False))
    await ctx.session.execute(
        insert(CohortCell).from_select(["tenant_id", "cohort", "month", "members"], cells)
    )
