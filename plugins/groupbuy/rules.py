"""What every part of the group-buy plugin shares: its name, its settings, an activity's
phase, and the loading of an activity with its items."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import select

from core.context import TenantContext, TenantInfo
from core.db import ID_LENGTH
from plugins.groupbuy import errors
from plugins.groupbuy.models import GroupActivity, GroupItem
from plugins.groupbuy.schemas import GroupBuySettings, Phase

PLUGIN = "groupbuy"
PREFIX = f"{PLUGIN}:"  # a line's activity: "groupbuy:<activity id>"
HOLDER = PLUGIN  # the orders' fulfillment hold until their team succeeds


def settings_of(tenant: TenantInfo) -> GroupBuySettings:
    return msgspec.convert(tenant.plugin_configs.get(PLUGIN) or {}, GroupBuySettings)


def phase_of(activity: GroupActivity, now: datetime) -> Phase:
    """``running`` only while active and inside its window; a stopped one has ``ended``."""
    if activity.status != "active" or now >= activity.ends_at:
        return "ended"
    return "upcoming" if now < activity.starts_at else "running"


async def get_activity(
    ctx: TenantContext, activity_id: str, *, lock: bool = False
) -> GroupActivity:
    """The activity, or 404 ``groupbuy.activity_not_found`` (another store's id included);
    ``lock`` holds its row until the transaction ends."""
    activity = None
    if len(activity_id) <= ID_LENGTH:
        query = select(GroupActivity).where(GroupActivity.id == activity_id)
        activity = await ctx.session.scalar(query.with_for_update() if lock else query)
    if activity is None:
        raise errors.activity_not_found()
    return activity


async def items_of(ctx: TenantContext, activity_id: str) -> list[GroupItem]:
    items = await ctx.session.scalars(
        select(GroupItem).where(GroupItem.activity_id == activity_id).order_by(GroupItem.sku_id)
    )
    return list(items.all())


async def activity_with_items(
    ctx: TenantContext, activity_id: str
) -> tuple[GroupActivity, list[GroupItem]]:
    """The activity and its items, or 404 ``groupbuy.activity_not_found``."""
    activity = await get_activity(ctx, activity_id)
    return activity, await items_of(ctx, activity.id)
