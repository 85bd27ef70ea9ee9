"""What buyers see: the upcoming and running sales with the server's time for countdowns, an
activity's flash prices and (if the store shows it) the units left, and the catalog
decorations (the flash price and badge on product lists)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, select

from core.catalog.models import Product, Sku
from core.commerce import CatalogView, Decoration
from core.context import TenantContext
from core.db import utcnow
from core.paging import decode_cursor, encode_cursor
from plugins.flashsale import errors
from plugins.flashsale import schemas as s
from plugins.flashsale.models import LIVE, FlashActivity, FlashItem

PLUGIN = "flashsale"
BADGE_RUNNING = "秒杀"
BADGE_UPCOMING = "秒杀预告"


def phase(activity: FlashActivity, now: datetime) -> s.Phase:
    if activity.status not in LIVE or now >= activity.ends_at:
        return "ended"
    return "upcoming" if now < activity.starts_at else "running"


async def list_live(ctx: TenantContext, limit: int, cursor: str | None) -> s.StoreActivityList:
    """Published sales that have not ended, in creation order, with their lowest price."""
    now = utcnow()
    query = (
        select(FlashActivity, func.min(FlashItem.flash_price), func.count(FlashItem.id))
        .join(
            FlashItem,
            and_(
                FlashItem.tenant_id == FlashActivity.tenant_id,
                FlashItem.activity_id == FlashActivity.id,
            ),
        )
        .where(FlashActivity.status.in_(LIVE), FlashActivity.ends_at > now)
        .group_by(FlashActivity.tenant_id, FlashActivity.id)
        .order_by(FlashActivity.id)
        .limit(limit + 1)
    )
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(FlashActivity.id > after)
    rows = (await ctx.session.execute(query)).all()
    cards = [
        s.StoreActivityCard(
            id=activity.id,
            title=activity.title,
            phase=phase(activity, now),
            starts_at=activity.starts_at,
            ends_at=activity.ends_at,
            min_flash_price=int(lowest),
            items=int(count),
        )
        for activity, lowest, count in rows[:limit]
    ]
    next_cursor = encode_cursor(cards[-1].id) if len(rows) > limit else None
    return s.StoreActivityList(server_time=now, items=cards, next_cursor=next_cursor)


async def live_activity(ctx: TenantContext, activity_id: str) -> FlashActivity:
    """A published activity (drafts are nobody's business but the merchant's)."""
    activity = None
    if len(activity_id) <= 26:
        activity = await ctx.session.get(FlashActivity, (ctx.tenant_id, activity_id))
    if activity is None or activity.status == "draft":
        raise errors.not_found()
    return activity


async def detail(
    ctx: TenantContext,
    activity: FlashActivity,
    show_stock: bool,
    redis_left: dict[str, int] | None,
) -> s.StoreActivity:
    now = utcnow()
    rows = (
        await ctx.session.execute(
            select(FlashItem, Sku, Product)
            .join(Sku, and_(Sku.tenant_id == FlashItem.tenant_id, Sku.id == FlashItem.sku_id))
            .join(
                Product,
                and_(Product.tenant_id == FlashItem.tenant_id, Product.id == FlashItem.product_id),
            )
            .where(FlashItem.activity_id == activity.id)
            .order_by(FlashItem.sku_id)
        )
    ).all()
    current = phase(activity, now)
    items = []
    for item, sku, product in rows:
        left = max(item.stock - item.sold, 0) if current != "ended" else 0
        if redis_left is not None and current != "ended":
            left = max(redis_left.get(item.sku_id, left), 0)
        specs = sku.specs if isinstance(sku.specs, dict) else {}
        items.append(
            s.StoreItem(
                sku_id=item.sku_id,
                product_id=item.product_id,
                title=product.title,
                sku_label=" / ".join(str(specs[name]) for name in sorted(specs)),
                image=product.images[0] if product.images else "",
                price=sku.price,
                flash_price=item.flash_price,
                remaining=left if show_stock else None,
                sold_out=left <= 0,
            )
        )
    return s.StoreActivity(
        server_time=now,
        id=activity.id,
        title=activity.title,
        phase=current,
        starts_at=activity.starts_at,
        ends_at=activity.ends_at,
        member_limit=activity.member_limit,
        order_limit=activity.order_limit,
        items=items,
    )


# ---- catalog decorations -------------------------------------------------------------------


async def load_catalog(ctx: TenantContext, view: CatalogView) -> None:
    """One query for the whole list: each product's lowest flash price in a published sale
    that has not ended, the earliest such sale first."""
    found: dict[str, tuple[str, int, bool]] = {}
    ids = [card.id for card in view.products]
    if ids:
        now = utcnow()
        rows = await ctx.session.execute(
            select(
                FlashItem.product_id,
                FlashActivity.id,
                FlashItem.flash_price,
                FlashActivity.starts_at,
            )
            .join(
                FlashActivity,
                and_(
                    FlashActivity.tenant_id == FlashItem.tenant_id,
                    FlashActivity.id == FlashItem.activity_id,
                ),
            )
            .where(
                FlashItem.product_id.in_(ids),
                FlashActivity.status.in_(LIVE),
                FlashActivity.ends_at > now,
            )
            .order_by(FlashActivity.starts_at, FlashItem.flash_price)
        )
        for product_id, activity_id, price, starts_at in rows:
            if product_id not in found:
                found[product_id] = (activity_id, price, starts_at <= now)
    view.plugin_data[PLUGIN] = found


def decorations(view: CatalogView) -> list[Decoration]:
    found: dict[str, tuple[str, int, bool]] = view.plugin_data.get(PLUGIN) or {}
    return [
        Decoration(
            product_id=card.id,
            source=PLUGIN,
            badge=BADGE_RUNNING if running else BADGE_UPCOMING,
            activity_price=price,
            activity=f"{PLUGIN}:{activity_id}",
        )
        for card in view.products
        if (hit := found.get(card.id)) is not None
        for activity_id, price, running in [hit]
    ]
