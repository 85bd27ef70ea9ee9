"""Binding buyers to leaders: through the leader's link at sign-up (``member_registered``
with ``source="leader"``) or on a later visit (``POST /leaders/{id}/bind``).

The settings decide: a binding lasts ``binding_days`` (0: for good), and with
``binding_rule = "first"`` a buyer keeps their leader while the binding lasts and that leader
is active; with ``"latest"`` the last link opened wins. Opening the same leader's link again
renews the binding. Only an active leader binds anybody, and a leader never binds themselves.
One row per buyer: a first binding is an INSERT in a savepoint, so two links opened at once
bind once; a change is made under the row's lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError

from core.context import TenantContext
from core.db import utcnow
from plugins.leaders.models import Leader, LeaderBinding
from plugins.leaders.rules import settings_of


@dataclass(frozen=True)
class Bound:
    binding: LeaderBinding
    leader: Leader


def lapsed(binding: LeaderBinding, now: datetime) -> bool:
    return binding.expires_at is not None and binding.expires_at <= now


async def current(ctx: TenantContext, member_id: str) -> Bound | None:
    """The buyer's binding while it lasts and its leader is active, else None."""
    row = (
        await ctx.session.execute(
            select(LeaderBinding, Leader)
            .join(
                Leader,
                and_(
                    Leader.tenant_id == LeaderBinding.tenant_id,
                    Leader.id == LeaderBinding.leader_id,
                ),
            )
            .where(LeaderBinding.member_id == member_id)
        )
    ).first()
    if row is None:
        return None
    binding, leader = row
    if lapsed(binding, utcnow()) or leader.status != "active":
        return None
    return Bound(binding=binding, leader=leader)


async def _holder_active(ctx: TenantContext, binding: LeaderBinding, now: datetime) -> bool:
    if lapsed(binding, now):
        return False
    holder = await ctx.session.get(Leader, (ctx.tenant_id, binding.leader_id))
    return holder is not None and holder.status == "active"


async def bind(ctx: TenantContext, member_id: str, leader: Leader, source: str) -> bool:
    """Bind the buyer to ``leader`` as the settings allow; whether they are bound to it now."""
    if leader.status != "active" or leader.member_id == member_id:
        return False
    settings = settings_of(ctx.tenant)
    now = utcnow()
    expires = now + timedelta(days=settings.binding_days) if settings.binding_days else None
    query = select(LeaderBinding).where(LeaderBinding.member_id == member_id).with_for_update()
    existing = await ctx.session.scalar(query)
    if existing is None:
        try:
            async with ctx.session.begin_nested():
                ctx.session.add(
                    LeaderBinding(
                        member_id=member_id,
                        leader_id=leader.id,
                        source=source,
                        bound_at=now,
                        expires_at=expires,
                    )
                )
            return True
        except IntegrityError:  # a concurrent first visit bound them: judge against it
            existing = await ctx.session.scalar(query.execution_options(populate_existing=True))
            assert existing is not None
    if existing.leader_id == leader.id:
        existing.expires_at = expires
        return True
    if settings.binding_rule == "first" and await _holder_active(ctx, existing, now):
        return False
    existing.leader_id, existing.source = leader.id, source
    existing.bound_at, existing.expires_at = now, expires
    return True
