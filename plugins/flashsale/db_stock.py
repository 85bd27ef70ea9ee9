"""The database side of a flash sale: the truth, and the whole gate when there is no Redis.

Every change is one conditional statement, never a read and then a write:

- a member's count: ``INSERT … ON CONFLICT DO UPDATE SET bought = bought + :n
  WHERE bought + :n <= :limit`` (no row back: over the limit);
- the activity stock: ``UPDATE flashsale_items SET sold = sold + :n WHERE sold + :n <=
  stock`` (no row: sold out);
- a release: ``UPDATE flashsale_orders SET status = 'released' WHERE order_id = :id AND
  status = 'held'``, so only one of two racing cancels gives the units back.

Locks are taken in one order everywhere (flash order, activity, member, item) so a buy, a
release and the end of a sale never deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.context import TenantContext
from core.db import utcnow
from core.inventory import service as inventory
from core.orders.models import Order, OrderLine
from core.payments.models import Refund
from plugins.flashsale import errors
from plugins.flashsale.models import LIVE, FlashActivity, FlashItem, FlashMember, FlashOrder
from plugins.flashsale.redis_stock import State, hold_value

PLUGIN = "flashsale"


def window_verdict(activity: FlashActivity | None, now: datetime) -> str:
    """The window part of a buy check: "ok", or the verdict that refuses it."""
    if activity is None or activity.status == "draft":
        return "absent"
    if activity.status not in LIVE or now >= activity.ends_at:
        return "ended"
    if now < activity.starts_at:
        return "not_started"
    return "ok"


async def offer(
    session: AsyncSession, activity_id: str, sku_id: str
) -> tuple[FlashActivity | None, FlashItem | None]:
    """The activity and its item for ``sku_id`` in one query (either may be missing)."""
    if len(activity_id) > 26:
        return None, None
    row = (
        await session.execute(
            select(FlashActivity, FlashItem)
            .outerjoin(
                FlashItem,
                (FlashItem.tenant_id == FlashActivity.tenant_id)
                & (FlashItem.activity_id == FlashActivity.id)
                & (FlashItem.sku_id == sku_id),
            )
            .where(FlashActivity.id == activity_id)
        )
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)


async def precheck(
    session: AsyncSession, activity_id: str, sku_id: str, member_id: str, quantity: int
) -> str:
    """The database-only mode's cheap read before a buy does any writing: the same verdicts
    as the Redis ``TAKE`` script, without taking (the conditional UPDATEs decide)."""
    activity, item = await offer(session, activity_id, sku_id)
    verdict = window_verdict(activity, utcnow())
    if verdict != "ok" or activity is None:
        return verdict
    if item is None:
        return "no_sku"
    if quantity > activity.order_limit:
        return "order_limit"
    bought = await session.scalar(
        select(FlashMember.bought).where(
            FlashMember.activity_id == activity_id, FlashMember.member_id == member_id
        )
    )
    if (bought or 0) + quantity > activity.member_limit:
        return "limit"
    if item.stock - item.sold < quantity:
        return "sold_out"
    return "ok"


async def _count_member(
    ctx: TenantContext, activity: FlashActivity, member_id: str, quantity: int
) -> bool:
    """Add ``quantity`` to the member's count unless that passes the limit."""
    if quantity > activity.member_limit:
        return False
    dialect = (await ctx.session.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(FlashMember).values(
        tenant_id=ctx.tenant_id, activity_id=activity.id, member_id=member_id, bought=quantity
    )
    upsert = statement.on_conflict_do_update(
        index_elements=["tenant_id", "activity_id", "member_id"],
        set_={"bought": FlashMember.bought + statement.excluded.bought},
        where=FlashMember.bought + statement.excluded.bought <= activity.member_limit,
    ).returning(FlashMember.bought)
    return (await ctx.session.scalar(upsert)) is not None


async def take_units(
    ctx: TenantContext, activity: FlashActivity, item: FlashItem, member_id: str, quantity: int
) -> None:
    """Count ``quantity`` units of ``item`` for the member: their count, then the stock.
    Raises the buyer's problem when either is refused."""
    if quantity > activity.order_limit:
        raise errors.order_limit_exceeded()
    if not await _count_member(ctx, activity, member_id, quantity):
        raise errors.limit_exceeded()
    sold = await ctx.session.scalar(
        update(FlashItem)
        .where(FlashItem.id == item.id, FlashItem.sold + quantity <= FlashItem.stock)
        .values(sold=FlashItem.sold + quantity)
        .returning(FlashItem.sold)
        .execution_options(synchronize_session=False)
    )
    if sold is None:
        raise errors.sold_out(from_database=True)


async def hold(
    ctx: TenantContext,
    activity: FlashActivity,
    item: FlashItem,
    *,
    member_id: str,
    order_id: str,
    quantity: int,
    token: str,
) -> FlashOrder:
    """The flash order row: the units ``take_units`` counted, held for ``order_id``."""
    held = FlashOrder(
        activity_id=activity.id,
        item_id=item.id,
        sku_id=item.sku_id,
        member_id=member_id,
        order_id=order_id,
        quantity=quantity,
        amount=item.flash_price * quantity,
        token=token,
    )
    ctx.session.add(held)
    await ctx.session.flush()
    return held


@dataclass(frozen=True)
class Released:
    activity_id: str
    token: str
    quantity: int
    live: bool  # the units went back to the running activity (and so to Redis)


async def lock_activity(ctx: TenantContext, activity_id: str) -> FlashActivity | None:
    return await ctx.session.scalar(
        select(FlashActivity)
        .where(FlashActivity.id == activity_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def release(ctx: TenantContext, order_id: str) -> Released | None:
    """Give back the units an unpaid order held, exactly once: into the activity while it is
    live, else straight back to the SKU's stock. None when there was nothing to give back."""
    row = (
        await ctx.session.execute(
            update(FlashOrder)
            .where(FlashOrder.order_id == order_id, FlashOrder.status == "held")
            .values(status="released", closed_at=utcnow())
            .returning(
                FlashOrder.activity_id,
                FlashOrder.item_id,
                FlashOrder.sku_id,
                FlashOrder.member_id,
                FlashOrder.quantity,
                FlashOrder.token,
            )
            .execution_options(synchronize_session=False)
        )
    ).first()
    if row is None:
        return None
    activity_id, item_id, sku_id, member_id, quantity, token = row
    activity = await lock_activity(ctx, activity_id)
    live = activity is not None and activity.status in LIVE
    await ctx.session.execute(
        update(FlashMember)
        .where(
            FlashMember.activity_id == activity_id,
            FlashMember.member_id == member_id,
            FlashMember.bought >= quantity,
        )
        .values(bought=FlashMember.bought - quantity)
        .execution_options(synchronize_session=False)
    )
    values: dict[str, Any] = {"sold": FlashItem.sold - quantity}
    if not live:  # the activity closed: its stock shrinks with the unit going home
        values["stock"] = FlashItem.stock - quantity
    await ctx.session.execute(
        update(FlashItem)
        .where(FlashItem.id == item_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not live:
        await inventory.release(ctx, sku_id, quantity, ref=order_id, reason="flashsale_release")
    return Released(activity_id=activity_id, token=token, quantity=quantity, live=live)


async def mark_paid(ctx: TenantContext, order_id: str) -> None:
    row = (
        await ctx.session.execute(
            update(FlashOrder)
            .where(FlashOrder.order_id == order_id, FlashOrder.status == "held")
            .values(status="paid", closed_at=utcnow())
            .returning(FlashOrder.item_id, FlashOrder.quantity, FlashOrder.amount)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if row is None:
        return
    item_id, quantity, amount = row
    await ctx.session.execute(
        update(FlashItem)
        .where(FlashItem.id == item_id)
        .values(paid=FlashItem.paid + quantity, revenue=FlashItem.revenue + amount)
        .execution_options(synchronize_session=False)
    )


async def refund(ctx: TenantContext, refund: Refund, order: Order) -> int:
    """A refund of paid flash units: counted on the item (refunded units, revenue less the
    money), and with ``refund.restock`` the units go back to the SKU's normal stock. The
    activity stock and the member's count stay: the sale happened, and a refund does not
    reopen the per-member limit. Returns the units refunded."""
    held = await ctx.session.scalar(
        select(FlashOrder)
        .where(FlashOrder.order_id == order.id, FlashOrder.status == "paid")
        .with_for_update()
    )
    if held is None:
        return 0
    if refund.whole_order:
        units, money = held.quantity - held.refunded_quantity, held.amount
    else:
        flash_lines = set(
            (
                await ctx.session.scalars(
                    select(OrderLine.id).where(
                        OrderLine.order_id == order.id, OrderLine.stock_held_by == PLUGIN
                    )
                )
            ).all()
        )
        parts = [p for p in refund.lines if isinstance(p, dict) and p.get("line_id") in flash_lines]
        units = sum(int(p.get("quantity", 0)) for p in parts)
        money = sum(int(p.get("amount", 0)) for p in parts)
    units = min(units, held.quantity - held.refunded_quantity)
    if units <= 0:
        return 0
    held.refunded_quantity += units
    await ctx.session.execute(
        update(FlashItem)
        .where(FlashItem.id == held.item_id)
        .values(refunded=FlashItem.refunded + units, revenue=FlashItem.revenue - money)
        .execution_options(synchronize_session=False)
    )
    if refund.restock:
        await inventory.release(ctx, held.sku_id, units, ref=refund.id, reason="flashsale_refund")
    return units


async def redis_state(
    session: AsyncSession, activity: FlashActivity, items: list[FlashItem]
) -> State:
    """What Redis must hold for ``activity``, from the database's truth: each SKU's stock
    less the units held or sold, the members' counts and the holds of unpaid and paid
    orders."""
    meta: dict[str, str | int] = {
        "status": activity.status,
        "starts": int(activity.starts_at.timestamp() * 1000),
        "ends": int(activity.ends_at.timestamp() * 1000),
        "member_limit": activity.member_limit,
        "order_limit": activity.order_limit,
    }
    members = await session.execute(
        select(FlashMember.member_id, FlashMember.bought).where(
            FlashMember.activity_id == activity.id, FlashMember.bought > 0
        )
    )
    orders = await session.execute(
        select(
            FlashOrder.token,
            FlashOrder.status,
            FlashOrder.sku_id,
            FlashOrder.quantity,
            FlashOrder.member_id,
        ).where(FlashOrder.activity_id == activity.id)
    )
    holds: dict[str, str] = {}
    for token, status, sku_id, quantity, member_id in orders:
        if status in ("held", "paid"):
            holds[token] = hold_value(sku_id, quantity, member_id)
    live = activity.status in LIVE
    return State(
        meta=meta,
        stock={item.sku_id: max(item.stock - item.sold, 0) if live else 0 for item in items},
        members={member_id: bought for member_id, bought in members},
        holds=holds,
    )
