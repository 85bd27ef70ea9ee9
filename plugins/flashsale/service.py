"""The merchant's side of flash sales: activities from draft to their end, and live stats.

- A draft can be edited and deleted; publishing it moves each SKU's activity stock out of the
  SKU (one conditional UPDATE each, with a ledger row) after checking that none of its SKUs is
  in another published activity whose window overlaps. The SKU rows are locked first, so two
  publishes racing over one SKU are serialised and the second sees the first.
- Closing (the end job, or a cancel) returns the unsold units to the SKUs; units still held
  by unpaid orders come home one by one as those orders are paid or released.
- Redis is only told through jobs (``flashsale.preheat``): the request's transaction commits
  first, and the database stays the truth meanwhile.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select

from core.catalog.models import Sku
from core.context import TenantContext
from core.db import utcnow
from core.errors import Conflict, FieldError, Invalid
from core.inventory import service as inventory
from core.paging import Page, page_of, paged
from core.store.service import settings_in
from plugins.flashsale import errors
from plugins.flashsale import schemas as s
from plugins.flashsale.db_stock import lock_activity
from plugins.flashsale.models import LIVE, FlashActivity, FlashItem, FlashOrder

PREHEAT_JOB = "flashsale.preheat"
START_JOB = "flashsale.start"
END_JOB = "flashsale.end"
RELEASE_JOB = "flashsale.redis_release"


def job_key(job: str, tenant_id: str, activity_id: str) -> str:
    return f"{job}:{tenant_id}:{activity_id}"


def item_out(item: FlashItem) -> s.ItemOut:
    return s.ItemOut(
        id=item.id,
        sku_id=item.sku_id,
        product_id=item.product_id,
        flash_price=item.flash_price,
        allotted=item.allotted,
        stock=item.stock,
        sold=item.sold,
        paid=item.paid,
        refunded=item.refunded,
        revenue=item.revenue,
    )


def activity_out(activity: FlashActivity, items: list[FlashItem]) -> s.ActivityOut:
    return s.ActivityOut(
        id=activity.id,
        title=activity.title,
        status=activity.status,
        starts_at=activity.starts_at,
        ends_at=activity.ends_at,
        member_limit=activity.member_limit,
        order_limit=activity.order_limit,
        payment_window_minutes=activity.payment_window_minutes,
        published_at=activity.published_at,
        closed_at=activity.closed_at,
        reconcile=dict(activity.reconcile or {}),
        created_at=activity.created_at,
        items=[item_out(item) for item in items],
    )


async def items_of(ctx: TenantContext, activity_id: str, *, lock: bool = False) -> list[FlashItem]:
    query = select(FlashItem).where(FlashItem.activity_id == activity_id).order_by(FlashItem.sku_id)
    if lock:
        query = query.with_for_update()
    return list((await ctx.session.scalars(query)).all())


async def get_activity(
    ctx: TenantContext, activity_id: str, *, lock: bool = False
) -> FlashActivity:
    if len(activity_id) > 26:
        raise errors.not_found()
    if lock:
        activity = await lock_activity(ctx, activity_id)
    else:
        activity = await ctx.session.get(FlashActivity, (ctx.tenant_id, activity_id))
    if activity is None:
        raise errors.not_found()
    return activity


async def _check_input(ctx: TenantContext, data: s.ActivityIn) -> dict[str, Sku]:
    if data.ends_at <= data.starts_at:
        raise Invalid(
            "the sale must end after it starts",
            code="flashsale.invalid_window",
            errors=[FieldError(field="ends_at", message="must be after starts_at")],
        )
    seen: set[str] = set()
    for index, item in enumerate(data.items):
        if item.sku_id in seen:
            raise Invalid(
                "a SKU is listed twice",
                code="flashsale.duplicate_sku",
                errors=[FieldError(field=f"items[{index}].sku_id", message="listed twice")],
            )
        seen.add(item.sku_id)
    skus = {sku.id: sku for sku in (await ctx.session.scalars(select(Sku).where(Sku.id.in_(seen))))}
    for index, item in enumerate(data.items):
        sku = skus.get(item.sku_id)
        if sku is None:
            raise Invalid(
                "no such SKU in this store",
                code="flashsale.unknown_sku",
                errors=[FieldError(field=f"items[{index}].sku_id", message="no such SKU")],
            )
        if item.flash_price > sku.price:
            raise Invalid(
                "the flash price is above the SKU's price",
                code="flashsale.invalid_price",
                errors=[
                    FieldError(field=f"items[{index}].flash_price", message=f"at most {sku.price}")
                ],
            )
    return skus


def _write_items(
    ctx: TenantContext, activity_id: str, data: s.ActivityIn, skus: dict[str, Sku]
) -> list[FlashItem]:
    items = [
        FlashItem(
            activity_id=activity_id,
            sku_id=item.sku_id,
            product_id=skus[item.sku_id].product_id,
            flash_price=item.flash_price,
            allotted=item.stock,
            stock=item.stock,
        )
        for item in data.items
    ]
    ctx.session.add_all(items)
    return items


async def create(ctx: TenantContext, data: s.ActivityIn) -> s.ActivityOut:
    skus = await _check_input(ctx, data)
    now = utcnow()
    activity = FlashActivity(
        title=data.title,
        status="draft",
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        member_limit=data.member_limit,
        order_limit=data.order_limit,
        payment_window_minutes=data.payment_window_minutes,
        created_at=now,
        updated_at=now,
    )
    ctx.session.add(activity)
    await ctx.session.flush()
    items = _write_items(ctx, activity.id, data, skus)
    await ctx.session.flush()
    return activity_out(activity, items)


def _draft_only(activity: FlashActivity) -> None:
    if activity.status != "draft":
        raise errors.invalid_state(f"a {activity.status} flash sale cannot be changed")


async def replace(ctx: TenantContext, activity_id: str, data: s.ActivityIn) -> s.ActivityOut:
    activity = await get_activity(ctx, activity_id, lock=True)
    _draft_only(activity)
    skus = await _check_input(ctx, data)
    await ctx.session.execute(delete(FlashItem).where(FlashItem.activity_id == activity.id))
    for name in ("title", "starts_at", "ends_at", "member_limit", "order_limit"):
        setattr(activity, name, getattr(data, name))
    activity.payment_window_minutes = data.payment_window_minutes
    activity.updated_at = utcnow()
    items = _write_items(ctx, activity.id, data, skus)
    await ctx.session.flush()
    return activity_out(activity, items)


async def remove(ctx: TenantContext, activity_id: str) -> None:
    activity = await get_activity(ctx, activity_id, lock=True)
    _draft_only(activity)
    await ctx.session.execute(delete(FlashItem).where(FlashItem.activity_id == activity.id))
    await ctx.session.delete(activity)


async def detail(ctx: TenantContext, activity_id: str) -> s.ActivityOut:
    activity = await get_activity(ctx, activity_id)
    return activity_out(activity, await items_of(ctx, activity.id))


async def list_activities(
    ctx: TenantContext, limit: int, cursor: str | None, status: str | None
) -> Page[s.ActivityOut]:
    query = select(FlashActivity)
    if status is not None:
        query = query.where(FlashActivity.status == status)
    rows = list((await ctx.session.scalars(paged(query, FlashActivity.id, limit, cursor))).all())
    items: dict[str, list[FlashItem]] = {row.id: [] for row in rows}
    if rows:
        found = await ctx.session.scalars(
            select(FlashItem)
            .where(FlashItem.activity_id.in_(list(items)))
            .order_by(FlashItem.sku_id)
        )
        for item in found:
            items[item.activity_id].append(item)
    return page_of(rows, limit, lambda row: activity_out(row, items[row.id]), lambda row: row.id)


async def _check_overlap(ctx: TenantContext, activity: FlashActivity, sku_ids: list[str]) -> None:
    clash = await ctx.session.scalar(
        select(FlashItem.sku_id)
        .join(
            FlashActivity,
            (FlashActivity.tenant_id == FlashItem.tenant_id)
            & (FlashActivity.id == FlashItem.activity_id),
        )
        .where(
            FlashItem.sku_id.in_(sku_ids),
            FlashActivity.id != activity.id,
            FlashActivity.status.in_(LIVE),
            FlashActivity.starts_at < activity.ends_at,
            FlashActivity.ends_at > activity.starts_at,
        )
        .limit(1)
    )
    if clash is not None:
        raise Conflict(
            f"SKU {clash} is already in a flash sale at an overlapping time",
            code="flashsale.sku_overlap",
        )


async def publish(ctx: TenantContext, activity_id: str) -> s.ActivityOut:
    """draft → scheduled (running if its start has passed): the activity stock leaves the
    SKUs, and the preheat, start and end jobs are queued once this commits."""
    activity = await get_activity(ctx, activity_id, lock=True)
    _draft_only(activity)
    now = utcnow()
    if activity.ends_at <= now:
        raise errors.invalid_state("this flash sale's end has already passed")
    items = await items_of(ctx, activity.id, lock=True)
    # Locked in SKU id order: a concurrent publish over the same SKUs waits here, then sees
    # this one's activity in the overlap check.
    await inventory.lock_stock(ctx, [item.sku_id for item in items])
    await _check_overlap(ctx, activity, [item.sku_id for item in items])
    for item in items:
        try:
            await inventory.reserve(
                ctx, item.sku_id, item.stock, ref=activity.id, reason="flashsale_allot"
            )
        except inventory.InsufficientStock:
            raise Conflict(
                f"SKU {item.sku_id} has fewer than {item.stock} units to put in the sale",
                code="flashsale.insufficient_stock",
            ) from None
    # The store's settings row is created on first use; create it now rather than in the
    # first burst of buys, where concurrent placements would race to insert it.
    await settings_in(ctx.session, ctx.tenant_id)
    activity.status = "running" if activity.starts_at <= now else "scheduled"
    activity.published_at = now
    activity.updated_at = now
    args = {"tenant_id": ctx.tenant_id, "activity_id": activity.id}
    await ctx.jobs.enqueue(PREHEAT_JOB, key=job_key(PREHEAT_JOB, **args), **args)
    start_in = (activity.starts_at - now).total_seconds()
    if start_in > 0:
        await ctx.jobs.enqueue_in(start_in, START_JOB, key=job_key(START_JOB, **args), **args)
    end_in = (activity.ends_at - now).total_seconds()
    await ctx.jobs.enqueue_in(end_in, END_JOB, key=job_key(END_JOB, **args), **args)
    return activity_out(activity, items)


async def close(
    ctx: TenantContext, activity: FlashActivity, status: str, now: datetime | None = None
) -> list[FlashItem]:
    """A live activity ends or is cancelled (its row locked by the caller): the unsold units
    go back to their SKUs and the activity stock shrinks to what is held or sold."""
    now = now or utcnow()
    items = await items_of(ctx, activity.id, lock=True)
    for item in items:
        unsold = item.stock - item.sold
        if unsold > 0:
            await inventory.release(
                ctx, item.sku_id, unsold, ref=activity.id, reason="flashsale_return"
            )
            item.stock = item.sold
    activity.status = status
    activity.closed_at = now
    activity.updated_at = now
    await ctx.session.flush()
    return items


async def cancel(ctx: TenantContext, activity_id: str) -> s.ActivityOut:
    activity = await get_activity(ctx, activity_id, lock=True)
    if activity.status not in ("draft", *LIVE):
        raise errors.invalid_state(f"a {activity.status} flash sale cannot be cancelled")
    if activity.status == "draft":
        activity.status, activity.closed_at = "cancelled", utcnow()
        return activity_out(activity, await items_of(ctx, activity.id))
    items = await close(ctx, activity, "cancelled")
    args = {"tenant_id": ctx.tenant_id, "activity_id": activity.id}
    await ctx.jobs.enqueue(PREHEAT_JOB, key=job_key(PREHEAT_JOB, **args), **args)
    return activity_out(activity, items)


async def stats(
    ctx: TenantContext, activity_id: str, redis_left: dict[str, int] | None
) -> s.StatsOut:
    activity = await get_activity(ctx, activity_id)
    items = await items_of(ctx, activity.id)
    counts: dict[str, int] = {
        status: count
        for status, count in await ctx.session.execute(
            select(FlashOrder.status, func.count())
            .where(FlashOrder.activity_id == activity.id)
            .group_by(FlashOrder.status)
        )
    }
    released_units = await ctx.session.scalar(
        select(func.coalesce(func.sum(FlashOrder.quantity), 0)).where(
            FlashOrder.activity_id == activity.id, FlashOrder.status == "released"
        )
    )
    allotted = sum(item.allotted for item in items)
    paid = sum(item.paid for item in items)
    sold = sum(item.sold for item in items)
    return s.StatsOut(
        activity_id=activity.id,
        status=activity.status,
        allotted=allotted,
        sold=sold,
        pending=sold - paid,
        paid=paid,
        refunded=sum(item.refunded for item in items),
        revenue=sum(item.revenue for item in items),
        sell_through_percent=paid * 100 // allotted if allotted else 0,
        orders=sum(counts.values()),
        unpaid_releases=counts.get("released", 0),
        released_units=int(released_units or 0),
        items=[
            s.ItemStats(
                sku_id=item.sku_id,
                allotted=item.allotted,
                sold=item.sold,
                paid=item.paid,
                refunded=item.refunded,
                revenue=item.revenue,
                remaining_db=max(item.stock - item.sold, 0),
                remaining_redis=None if redis_left is None else redis_left.get(item.sku_id),
            )
            for item in items
        ],
    )
