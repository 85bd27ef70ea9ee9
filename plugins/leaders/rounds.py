"""Group rounds (团购期), the merchant's side: publishing a round of SKUs at round prices with
an order cut-off and a delivery date, listing rounds, and closing one early.

A round's phase is a matter of time: it takes orders from ``starts_at`` until ``cutoff_at``
(closing early moves the cut-off to now), so nothing has to run at the cut-off for orders to
close there; the buyers' payment windows end at the cut-off too (``hooks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, select

from core.catalog.models import Product, Sku
from core.context import TenantContext
from core.db import ID_LENGTH, utcnow
from core.errors import FieldError, Invalid
from core.orders.placement import CST
from core.paging import Page, keyset_page_of, keyset_paged
from plugins.leaders import errors
from plugins.leaders import schemas as s
from plugins.leaders.models import LeaderRound, LeaderRoundItem
from plugins.leaders.rules import PREFIX

# A round takes orders for at most a month, and its goods arrive within two weeks of the
# cut-off: what a leader's point can be booked for (``service.POINT_BOOKING_DAYS``).
MAX_ROUND_DAYS = 30
MAX_DELIVERY_DAYS = 14
CURRENT_LIMIT = 50  # rounds a storefront lists at once


def phase_of(round_: LeaderRound, now: datetime) -> s.Phase:
    if now < round_.starts_at:
        return "upcoming"
    return "open" if now < round_.cutoff_at else "closed"


async def get_round(ctx: TenantContext, round_id: str) -> LeaderRound:
    """The round, or 404 ``leaders.round_not_found`` (another store's id included)."""
    found = None
    if len(round_id) <= ID_LENGTH:
        found = await ctx.session.get(LeaderRound, (ctx.tenant_id, round_id))
    if found is None:
        raise errors.round_not_found()
    return found


async def items_of(
    ctx: TenantContext, round_ids: Sequence[str]
) -> dict[str, list[tuple[LeaderRoundItem, Sku, Product]]]:
    found: dict[str, list[tuple[LeaderRoundItem, Sku, Product]]] = {rid: [] for rid in round_ids}
    if not round_ids:
        return found
    rows = await ctx.session.execute(
        select(LeaderRoundItem, Sku, Product)
        .join(
            Sku, and_(Sku.tenant_id == LeaderRoundItem.tenant_id, Sku.id == LeaderRoundItem.sku_id)
        )
        .join(Product, and_(Product.tenant_id == Sku.tenant_id, Product.id == Sku.product_id))
        .where(LeaderRoundItem.round_id.in_(round_ids))
        .order_by(LeaderRoundItem.round_id, LeaderRoundItem.sku_id)
    )
    for item, sku, product in rows:
        found[item.round_id].append((item, sku, product))
    return found


def sku_label(sku: Sku) -> str:
    specs = sku.specs if isinstance(sku.specs, dict) else {}
    return " / ".join(str(specs[name]) for name in sorted(specs))


def round_out(
    round_: LeaderRound, items: Sequence[tuple[LeaderRoundItem, Sku, Product]], now: datetime
) -> s.RoundOut:
    return s.RoundOut(
        id=round_.id,
        title=round_.title,
        phase=phase_of(round_, now),
        starts_at=round_.starts_at,
        cutoff_at=round_.cutoff_at,
        delivery_date=round_.delivery_date,
        activity=PREFIX + round_.id,
        items=[
            s.RoundItemOut(
                sku_id=sku.id,
                product_id=product.id,
                title=product.title,
                sku_label=sku_label(sku),
                image=(product.images or [""])[0],
                price=sku.price,
                round_price=item.round_price,
            )
            for item, sku, product in items
        ],
        closed_early_at=round_.closed_early_at,
        created_at=round_.created_at,
    )


async def one(ctx: TenantContext, round_: LeaderRound) -> s.RoundOut:
    return round_out(round_, (await items_of(ctx, [round_.id]))[round_.id], utcnow())


def _check_window(data: s.RoundIn, now: datetime) -> None:
    def bad(field: str, message: str) -> Invalid:
        return Invalid(
            message, code="leaders.invalid_round", errors=[FieldError(field=field, message=message)]
        )

    if data.starts_at.tzinfo is None or data.cutoff_at.tzinfo is None:
        raise bad("starts_at", "times need a timezone (e.g. 2026-11-23T20:00:00+08:00)")
    if data.cutoff_at <= data.starts_at:
        raise bad("cutoff_at", "the cut-off comes after the start")
    if data.cutoff_at <= now:
        raise bad("cutoff_at", "the cut-off is in the past")
    if data.cutoff_at - data.starts_at > timedelta(days=MAX_ROUND_DAYS):
        raise bad("cutoff_at", f"a round takes orders for at most {MAX_ROUND_DAYS} days")
    cutoff_day = data.cutoff_at.astimezone(CST).date()
    if data.delivery_date < cutoff_day:
        raise bad("delivery_date", "the goods are delivered on or after the cut-off day")
    if data.delivery_date > cutoff_day + timedelta(days=MAX_DELIVERY_DAYS):
        raise bad(
            "delivery_date", f"the goods arrive at most {MAX_DELIVERY_DAYS} days after the cut-off"
        )


async def create_round(ctx: TenantContext, data: s.RoundIn) -> s.RoundOut:
    _check_window(data, utcnow())
    sku_ids = [item.sku_id for item in data.items]
    if len(set(sku_ids)) != len(sku_ids):
        raise Invalid(
            "a SKU is listed twice",
            code="leaders.invalid_round",
            errors=[FieldError(field="items", message="each SKU once")],
        )
    skus = {
        sku.id: sku for sku in await ctx.session.scalars(select(Sku).where(Sku.id.in_(sku_ids)))
    }
    for index, sku_id in enumerate(sku_ids):
        if sku_id not in skus:
            raise Invalid(
                "no such SKU",
                code="leaders.unknown_sku",
                errors=[FieldError(field=f"items[{index}].sku_id", message="no such SKU")],
            )
    round_ = LeaderRound(
        title=data.title,
        starts_at=data.starts_at,
        cutoff_at=data.cutoff_at,
        delivery_date=data.delivery_date,
    )
    ctx.session.add(round_)
    await ctx.session.flush()
    ctx.session.add_all(
        LeaderRoundItem(
            round_id=round_.id,
            product_id=skus[item.sku_id].product_id,
            sku_id=item.sku_id,
            round_price=item.round_price,
        )
        for item in data.items
    )
    await ctx.session.flush()
    return await one(ctx, round_)


async def list_rounds(ctx: TenantContext, limit: int, cursor: str | None) -> Page[s.RoundOut]:
    """The rounds, the newest first."""
    rows = list(
        await ctx.session.scalars(
            keyset_paged(select(LeaderRound), [(LeaderRound.id, True)], limit, cursor, "rounds")
        )
    )
    items = await items_of(ctx, [row.id for row in rows[:limit]])
    now = utcnow()
    return keyset_page_of(
        rows, limit, lambda row: round_out(row, items[row.id], now), lambda row: [row.id], "rounds"
    )


async def close_round(ctx: TenantContext, round_id: str) -> s.RoundOut:
    """Stop taking orders now (the cut-off moves to now); 409 for a round already closed."""
    round_ = await get_round(ctx, round_id)
    now = utcnow()
    if phase_of(round_, now) == "closed":
        raise errors.round_closed()
    round_.cutoff_at = max(now, round_.starts_at + timedelta(microseconds=1))
    round_.closed_early_at = now
    await ctx.session.flush()
    return await one(ctx, round_)


async def current_rounds(ctx: TenantContext) -> s.RoundList:
    """The storefront's rounds: open ones and those about to open, the soonest cut-off
    first."""
    now = utcnow()
    rows = list(
        await ctx.session.scalars(
            select(LeaderRound)
            .where(LeaderRound.cutoff_at > now)
            .order_by(LeaderRound.cutoff_at, LeaderRound.id)
            .limit(CURRENT_LIMIT)
        )
    )
    items = await items_of(ctx, [row.id for row in rows])
    return s.RoundList(items=[round_out(row, items[row.id], now) for row in rows])


async def store_round(ctx: TenantContext, round_id: str) -> s.RoundOut:
    return await one(ctx, await get_round(ctx, round_id))
