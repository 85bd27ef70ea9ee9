"""What every part of the leaders plugin shares: its name, its settings, and loading a
leader (the merchant's, by id; the storefront's, by the signed-in member)."""

from __future__ import annotations

import msgspec
from sqlalchemy import select

from core.context import TenantContext, TenantInfo
from core.db import ID_LENGTH
from plugins.leaders import errors
from plugins.leaders.models import Leader
from plugins.leaders.schemas import LeadersSettings

PLUGIN = "leaders"
PREFIX = f"{PLUGIN}:"  # a line bought in a round: "leaders:<round id>"
HOLDER = PLUGIN  # a round order's fulfillment hold until its leader confirms arrival


def settings_of(tenant: TenantInfo) -> LeadersSettings:
    return msgspec.convert(tenant.plugin_configs.get(PLUGIN) or {}, LeadersSettings)


async def get_leader(ctx: TenantContext, leader_id: str, *, lock: bool = False) -> Leader:
    """The leader, or 404 ``leaders.leader_not_found`` (another store's id included)."""
    leader = None
    if len(leader_id) <= ID_LENGTH:
        query = select(Leader).where(Leader.id == leader_id)
        leader = await ctx.session.scalar(query.with_for_update() if lock else query)
    if leader is None:
        raise errors.leader_not_found()
    return leader


async def leader_of_member(
    ctx: TenantContext, member_id: str, *, lock: bool = False
) -> Leader | None:
    query = select(Leader).where(Leader.member_id == member_id)
    return await ctx.session.scalar(query.with_for_update() if lock else query)


# Who may use the leader's own area: reading it needs an approved leader (a suspended or
# ended one still sees their ledger); acting in it needs an active one.
APPROVED = ("active", "suspended", "ended")
ACTIVE = ("active",)


async def leader_area(
    ctx: TenantContext,
    member_id: str,
    allowed: tuple[str, ...] = ACTIVE,
    *,
    lock: bool = False,
) -> Leader:
    """The signed-in member's leader row while its status is ``allowed``, else 403
    ``leaders.not_a_leader``: the leader's own area answers nobody else."""
    leader = await leader_of_member(ctx, member_id, lock=lock)
    if leader is None or leader.status not in allowed:
        raise errors.not_a_leader()
    return leader
