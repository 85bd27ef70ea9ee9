"""A store's day, computed from the orders, refunds and traffic of that day alone.

``compute_day`` is the one definition of every daily figure: the rollup job stores what it
returns (``store_day`` replaces the day's rows, so a re-run for the same day writes the same
rows), and the dashboard calls it for today, whose figures are still moving. Each query is
bounded by the day: orders by ``paid_at`` / ``created_at``, refunds by ``succeeded_at``, on
indexes that lead with the tenant.

What counts where:
- GMV, paid orders and paying members belong to the day the order was paid. A refund belongs
  to the day it succeeded, so it lowers that day's net revenue and never rewrites history.
  Money that arrived for an order already cancelled (refunded at once) is neither.
- A buyer is new on the day of their first payment ever, returning after that.
- Each plugin says what it contributed to the day's paid orders (``analytics_contributions``);
  paid orders no plugin claimed are ``direct``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

import msgspec
from sqlalchemy import and_, case, delete, distinct, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.analytics import schemas as s
from core.analytics.events import DIRECT, day_bounds, local_day
from core.analytics.facts import Contribution, LineFacts, OrderFacts
from core.analytics.models import (
    CARTED,
    VIEWED,
    VISITED,
    DayRollup,
    ProductDay,
    SourceDay,
    TrafficCount,
    VisitorDay,
)
from core.context import TenantContext
from core.orders.models import Order, OrderLine
from core.payments.models import Refund
from core.plugins import TenantHooks, call_acting

# Paid orders handed to ``analytics_contributions`` at a time.
FACTS_BATCH = 500


def _has(stage: int) -> Any:
    return func.coalesce(func.sum(case((VisitorDay.stages.op("&")(stage) != 0, 1), else_=0)), 0)


ORDER_FACTS = (
    Order.id,
    Order.member_id,
    Order.paid_amount,
    Order.items_total,
    Order.discount_total,
    Order.fulfillment,
    Order.fulfillment_data,
    Order.adjustments,
)
LINE_FACTS = (
    OrderLine.order_id,
    OrderLine.id,
    OrderLine.product_id,
    OrderLine.sku_id,
    OrderLine.activity,
    OrderLine.quantity,
    OrderLine.line_total,
    OrderLine.adjustments,
)


async def _contributions(
    ctx: TenantContext, hooks: TenantHooks, paid_in_day: Any
) -> tuple[list[Contribution], dict[str, int]]:
    """Ask every plugin about the day's paid orders, a batch of facts at a time (columns,
    not ORM objects: a big day does not pile up in the session). Also returns each paid
    order's amount, to find the ones nobody claimed. The day's orders come in one query on
    the ``paid_at`` index, their lines a batch at a time on the ``order_id`` index."""
    found: list[Contribution] = []
    orders = (await ctx.session.execute(select(*ORDER_FACTS).where(paid_in_day))).all()
    amounts = {o.id: o.paid_amount for o in orders}
    for first in range(0, len(orders), FACTS_BATCH):
        batch = orders[first : first + FACTS_BATCH]
        lines: dict[str, list[LineFacts]] = defaultdict(list)
        for row in await ctx.session.execute(
            select(*LINE_FACTS).where(OrderLine.order_id.in_([o.id for o in batch]))
        ):
            order_id, *values = row
            lines[order_id].append(
                LineFacts(**dict(zip([c.key for c in LINE_FACTS[1:]], values, strict=True)))
            )
        facts = [
            OrderFacts(
                id=o.id,
                member_id=o.member_id,
                paid_amount=o.paid_amount,
                items_total=o.items_total,
                discount_total=o.discount_total,
                fulfillment=o.fulfillment,
                fulfillment_data=dict(o.fulfillment_data or {}),
                adjustments=list(o.adjustments or []),
                lines=lines[o.id],
            )
            for o in batch
        ]
        for claims in await call_acting(hooks.analytics_contributions(ctx=ctx, orders=facts)):
            found.extend(c for c in claims or [] if c.order_id in amounts)
    return found, amounts


async def compute_day(ctx: TenantContext, day: date, hooks: TenantHooks) -> s.DayFigures:
    """Every figure of ``day`` for the context's tenant (read only). ``hooks`` should be every
    installed plugin's (``rt.plugins.all_hooks``): an order keeps what it came through after
    a plugin is switched off."""
    start, end = day_bounds(day)
    paid_in_day = and_(Order.paid_at >= start, Order.paid_at < end)
    session = ctx.session

    gmv, paid_orders, paying = (
        await session.execute(
            select(
                func.coalesce(func.sum(Order.paid_amount), 0),
                func.count(),
                func.count(distinct(Order.member_id)),
            ).where(paid_in_day)
        )
    ).one()
    earlier = aliased(Order)
    new_buyers = await session.scalar(
        select(func.count(distinct(Order.member_id))).where(
            paid_in_day,
            ~exists().where(earlier.member_id == Order.member_id, earlier.paid_at < start),
        )
    )
    refunded, refund_orders = (
        await session.execute(
            select(func.coalesce(func.sum(Refund.amount), 0), func.count(distinct(Refund.order_id)))
            .join(Order, and_(Order.tenant_id == Refund.tenant_id, Order.id == Refund.order_id))
            .where(
                Refund.status == "succeeded",
                Refund.succeeded_at >= start,
                Refund.succeeded_at < end,
                Order.paid_at.is_not(None),
            )
        )
    ).one()
    placed, ordering = (
        await session.execute(
            select(func.count(), func.count(distinct(Order.member_id))).where(
                Order.created_at >= start, Order.created_at < end
            )
        )
    ).one()
    visitors, viewers, carted = (
        await session.execute(
            select(_has(VISITED), _has(VIEWED), _has(CARTED)).where(VisitorDay.day == day)
        )
    ).one()

    traffic = (
        await session.execute(
            select(
                TrafficCount.product_id,
                TrafficCount.source,
                TrafficCount.list_views,
                TrafficCount.views,
                TrafficCount.cart_adds,
            ).where(TrafficCount.day == day)
        )
    ).all()
    products: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sources: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    list_views = views = cart_adds = 0
    for product_id, source, n_list, n_views, n_carts in traffic:
        list_views += n_list
        views += n_views
        cart_adds += n_carts
        if product_id:
            products[product_id]["views"] += n_views
            products[product_id]["cart_adds"] += n_carts
        sources[source]["list_views"] += n_list
        sources[source]["views"] += n_views
        sources[source]["cart_adds"] += n_carts

    sold = await session.execute(
        select(
            OrderLine.product_id,
            func.count(distinct(OrderLine.order_id)),
            func.sum(OrderLine.quantity),
            func.sum(OrderLine.line_total),
        )
        .join(Order, and_(Order.tenant_id == OrderLine.tenant_id, Order.id == OrderLine.order_id))
        .where(paid_in_day)
        .group_by(OrderLine.product_id)
    )
    for product_id, n_orders, units, sales in sold:
        products[product_id]["paid_orders"] = int(n_orders)
        products[product_id]["units"] = int(units or 0)
        products[product_id]["sales"] = int(sales or 0)

    contributions, amounts = await _contributions(ctx, hooks, paid_in_day)
    claimed: set[str] = set()
    by_source: dict[str, tuple[set[str], list[int]]] = {}
    for c in contributions:
        claimed.add(c.order_id)
        ids, money = by_source.setdefault(c.source[:20], (set(), [0, 0]))
        ids.add(c.order_id)
        money[0] += c.gmv
        money[1] += c.benefit
    for source, (ids, (source_gmv, benefit)) in by_source.items():
        sources[source]["orders"] += len(ids)
        sources[source]["gmv"] += source_gmv
        sources[source]["benefit"] += benefit
    unclaimed = [amount for order_id, amount in amounts.items() if order_id not in claimed]
    if unclaimed:
        sources[DIRECT]["orders"] += len(unclaimed)
        sources[DIRECT]["gmv"] += sum(unclaimed)

    return s.DayFigures(
        day=day,
        gmv=int(gmv),
        paid_orders=int(paid_orders),
        paying_members=int(paying),
        new_buyers=int(new_buyers or 0),
        returning_buyers=int(paying) - int(new_buyers or 0),
        refunded=int(refunded),
        refund_orders=int(refund_orders),
        net_revenue=int(gmv) - int(refunded),
        visitors=int(visitors),
        product_viewers=int(viewers),
        cart_members=int(carted),
        ordering_members=int(ordering),
        list_views=list_views,
        product_views=views,
        cart_adds=cart_adds,
        orders_placed=int(placed),
        products=sorted(
            (s.ProductFigures(product_id=pid, **values) for pid, values in products.items()),
            key=lambda p: (-p.sales, -p.views, p.product_id),
        ),
        sources=sorted(
            (s.SourceFigures(source=name, **values) for name, values in sources.items()),
            key=lambda row: row.source,
        ),
    )


DAY_COLUMNS = tuple(c.name for c in DayRollup.__table__.columns if c.name not in ("tenant_id",))


async def store_day(ctx: TenantContext, figures: s.DayFigures) -> None:
    """Replace the day's rollup rows with ``figures`` (in ``ctx``'s transaction)."""
    session = ctx.session
    for model in (DayRollup, ProductDay, SourceDay):
        await session.execute(
            delete(model)
            .where(model.day == figures.day)
            .execution_options(synchronize_session=False)
        )
    values = msgspec.structs.asdict(figures)
    session.add(DayRollup(**{name: values[name] for name in DAY_COLUMNS}))
    session.add_all(
        ProductDay(day=figures.day, **msgspec.structs.asdict(p)) for p in figures.products
    )
    session.add_all(
        SourceDay(day=figures.day, **msgspec.structs.asdict(r)) for r in figures.sources
    )
    await session.flush()


def empty_day(day: date) -> s.DayFigures:
    """A day before the store's first activity: nothing to compute."""
    zeros: dict[str, Any] = {name: 0 for name in DAY_COLUMNS if name != "day"}
    return s.DayFigures(day=day, **zeros)


async def first_activity(session: AsyncSession) -> date | None:
    """The store's first day with an order, a payment or a storefront hit (index lookups;
    a payment never precedes its order, but imported history may say otherwise)."""
    first_order = await session.scalar(select(func.min(Order.created_at)))
    first_paid = await session.scalar(select(func.min(Order.paid_at)))
    first_traffic = await session.scalar(select(func.min(TrafficCount.day)))
    days = [first_traffic, *(local_day(t) for t in (first_order, first_paid) if t)]
    found = [d for d in days if d]
    return min(found) if found else None


async def rolled_days(ctx: TenantContext, start: date, end: date) -> Sequence[date]:
    """The days in ``[start, end]`` that have a stored rollup."""
    return (
        await ctx.session.scalars(
            select(DayRollup.day).where(DayRollup.day >= start, DayRollup.day <= end)
        )
    ).all()
