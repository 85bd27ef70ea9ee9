"""The points ledger: lots, the member's lock, and the moves every feature is made of.

Every change to a member's points starts with ``lock`` (an upsert that bumps the account's
``version``: the row lock on PostgreSQL, the write lock on SQLite) and then reads the lots,
so two redemptions of the same balance run one after the other and the second sees what the
first took. The balance is the sum of the active, unexpired lots' ``remaining``; a take
never takes more than that (409 ``points.insufficient``), and ``remaining >= 0`` is checked
by the database too. Redemption consumes the lots that expire first (then the oldest).
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from core.context import TenantContext, TenantInfo
from core.db import utcnow
from core.errors import Conflict
from plugins.points.models import PointsAccount, PointsEntry, PointsLot
from plugins.points.schemas import PointsSettings

PLUGIN = "points"
# Dates (check-in days, "the end of the next year") are China Standard Time, as buyers see them.
CST = timezone(timedelta(hours=8))


def settings_of(tenant: TenantInfo) -> PointsSettings:
    return msgspec.convert(tenant.plugin_configs.get(PLUGIN) or {}, PointsSettings)


def actor_of(ctx: TenantContext) -> str:
    principal = ctx.principal
    return f"{principal.kind}:{principal.id}" if principal is not None else "system"


def expiry_for(settings: PointsSettings, earned_at: datetime) -> datetime:
    """When points earned at ``earned_at`` expire."""
    local = earned_at.astimezone(CST)
    if settings.expiry == "next_year_end":
        end = datetime(local.year + 2, 1, 1, tzinfo=CST)  # the first instant after next year
        return end.astimezone(UTC)
    month = local.month - 1 + settings.expiry_months
    year, month = local.year + month // 12, month % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(UTC)


async def lock(ctx: TenantContext, member_id: str) -> PointsAccount:
    """The member's account, created if missing, with its row locked until the commit."""
    dialect = (await ctx.session.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(PointsAccount).values(
        tenant_id=ctx.tenant_id,
        member_id=member_id,
        version=0,
        streak=0,
        first_order_id="",
        registered_bonus=False,
        created_at=utcnow(),
    )
    await ctx.session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "member_id"],
            set_={"version": PointsAccount.version + 1},
        )
    )
    account = await ctx.session.get(
        PointsAccount, (ctx.tenant_id, member_id), populate_existing=True
    )
    assert account is not None
    return account


def _spendable(member_id: str, now: datetime) -> list[Any]:
    return [
        PointsLot.member_id == member_id,
        PointsLot.status == "active",
        PointsLot.remaining > 0,
        PointsLot.expires_at > now,
    ]


async def balance(ctx: TenantContext, member_id: str, now: datetime | None = None) -> int:
    total = await ctx.session.scalar(
        select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
            *_spendable(member_id, now or utcnow())
        )
    )
    return int(total or 0)


async def pending(ctx: TenantContext, member_id: str) -> int:
    total = await ctx.session.scalar(
        select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
            PointsLot.member_id == member_id, PointsLot.status == "pending"
        )
    )
    return int(total or 0)


async def record(
    ctx: TenantContext,
    member_id: str,
    kind: str,
    points: int,
    *,
    ref_type: str,
    ref_id: str = "",
    reason: str = "",
) -> PointsEntry:
    """Append a ledger entry; call it after the lots moved (it records the balance after)."""
    await ctx.session.flush()
    entry = PointsEntry(
        member_id=member_id,
        kind=kind,
        points=points,
        balance_after=await balance(ctx, member_id),
        ref_type=ref_type,
        ref_id=ref_id,
        reason=reason,
        actor=actor_of(ctx),
    )
    ctx.session.add(entry)
    await ctx.session.flush()
    return entry


async def earn(
    ctx: TenantContext,
    member_id: str,
    points: int,
    *,
    ref_type: str,
    ref_id: str = "",
    reason: str = "",
    kind: str = "earn",
    is_pending: bool = False,
) -> PointsLot | None:
    """A new lot of ``points`` (the caller holds the lock); a pending one counts for nothing
    and writes no entry until ``activate``. None for zero points."""
    if points <= 0:
        return None
    now = utcnow()
    lot = PointsLot(
        member_id=member_id,
        points=points,
        remaining=points,
        status="pending" if is_pending else "active",
        ref_type=ref_type,
        ref_id=ref_id,
        earned_at=now,
        expires_at=None if is_pending else expiry_for(settings_of(ctx.tenant), now),
    )
    ctx.session.add(lot)
    if not is_pending:
        await record(ctx, member_id, kind, points, ref_type=ref_type, ref_id=ref_id, reason=reason)
    return lot


async def activate(ctx: TenantContext, lot: PointsLot, reason: str) -> None:
    """A pending lot starts to count (its order completed); it expires from now."""
    if lot.status != "pending":
        return
    now = utcnow()
    lot.status = "active"
    lot.earned_at = now
    lot.expires_at = expiry_for(settings_of(ctx.tenant), now)
    if lot.remaining == 0:
        lot.status = "void"
        return
    await record(
        ctx,
        lot.member_id,
        "earn",
        lot.remaining,
        ref_type=lot.ref_type,
        ref_id=lot.ref_id,
        reason=reason,
    )


async def _oldest_first(ctx: TenantContext, member_id: str) -> list[PointsLot]:
    return list(
        (
            await ctx.session.scalars(
                select(PointsLot)
                .where(*_spendable(member_id, utcnow()))
                .order_by(PointsLot.expires_at, PointsLot.earned_at, PointsLot.id)
            )
        ).all()
    )


async def take(ctx: TenantContext, member_id: str, points: int) -> dict[str, int]:
    """Consume ``points`` from the lots that expire first (the caller holds the lock);
    409 ``points.insufficient`` when the balance is short. Returns {lot_id: points}."""
    lots = await _oldest_first(ctx, member_id)
    if sum(lot.remaining for lot in lots) < points:
        raise Conflict("not enough points", code="points.insufficient")
    return _consume(lots, points)


async def take_up_to(ctx: TenantContext, member_id: str, points: int) -> int:
    """Consume as many of ``points`` as the balance has (never below zero); how many."""
    lots = await _oldest_first(ctx, member_id)
    taken = min(points, sum(lot.remaining for lot in lots))
    _consume(lots, taken)
    return taken


def _consume(lots: list[PointsLot], points: int) -> dict[str, int]:
    allocations: dict[str, int] = {}
    left = points
    for lot in lots:
        if left == 0:
            break
        part = min(lot.remaining, left)
        lot.remaining -= part
        allocations[lot.id] = part
        left -= part
    return allocations


async def give_back(ctx: TenantContext, allocations: dict[str, int], points: int) -> dict[str, int]:
    """Return ``points`` of a use to the lots it came from, the latest-expiring first (so
    the member keeps the longest-lived points); the allocations still out afterwards. A lot
    already past its expiry is expired again by the next expiry run."""
    ids = [lot_id for lot_id, part in allocations.items() if part > 0]
    lots = list((await ctx.session.scalars(select(PointsLot).where(PointsLot.id.in_(ids)))).all())
    lots.sort(key=lambda lot: (lot.expires_at or utcnow(), lot.id), reverse=True)
    left = dict(allocations)
    wanted = points
    for lot in lots:
        part = min(int(left[lot.id]), lot.points - lot.remaining, wanted)
        lot.remaining += part
        left[lot.id] = int(left[lot.id]) - part
        wanted -= part
    if wanted:  # a use's lots only shrink by later uses, which give back first
        raise Conflict("points could not be returned", code="points.return_failed")
    return {lot_id: part for lot_id, part in left.items() if part > 0}
