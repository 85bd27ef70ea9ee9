"""The life of a team: places held and paid, success, failure, and members who leave.

Every decision about a team is taken with its row locked (``_lock``), or by a conditional
UPDATE for the one hot path, taking a place (``take_seat``), so a team's counts stay true
under concurrent buyers, payments, refunds and the expiry job:

- ``seats`` (held + paid places) never passes ``size``: of ten buyers racing for the last
  place, the database lets one through and the others are refused before they can pay;
- the team succeeds in the transaction of the payment that makes ``paid == size``, and the
  holds on its orders' fulfillment are lifted in that same transaction;
- a team that fails (expiry, a manual close) is marked failed first; its members are then
  settled one order per transaction by ``settle_team`` (refund the paid, cancel the unpaid),
  so a payment racing the failure is refunded by whichever of the two comes second.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.context import Principal, TenantContext, TenantInfo
from core.db import utcnow
from core.errors import AppError
from core.orders.models import Order
from core.orders.state import release_fulfillment, transition
from core.payments.models import Refund
from core.payments.refund_holds import lock_order
from core.payments.refunds import refund_order
from core.runtime import Runtime
from plugins.groupbuy import errors, notices
from plugins.groupbuy.models import IN_TEAM, OPEN_TEAM, GroupActivity, GroupMember, GroupTeam
from plugins.groupbuy.rules import HOLDER, PLUGIN

log = logging.getLogger("storeplug.groupbuy")
ACTOR = f"plugin:{PLUGIN}"
EXPIRE_JOB = "groupbuy.expire_team"
SETTLE_JOB = "groupbuy.settle_team"
FAILED_REASON = "拼团未成功，已退款"
CLOSED_REASON = "拼团已结束，已退款"  # paid after the team had closed


class SettleIncomplete(RuntimeError):
    """Some orders of a closed team could not be settled this time."""


def job_key(job: str, tenant_id: str, team_id: str, suffix: str = "") -> str:
    return f"{job}:{tenant_id}:{team_id}{suffix}"


async def _lock(ctx: TenantContext, team_id: str) -> GroupTeam:
    team = await ctx.session.scalar(
        select(GroupTeam)
        .where(GroupTeam.id == team_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if team is None:
        raise errors.team_not_found()
    return team


async def member_of_order(ctx: TenantContext, order_id: str) -> GroupMember | None:
    return await ctx.session.scalar(
        select(GroupMember)
        .where(GroupMember.order_id == order_id)
        .execution_options(populate_existing=True)
    )


async def _add_member(ctx: TenantContext, member: GroupMember) -> None:
    """Insert the place; the unique key (member, open activity) refuses a second open team."""
    try:
        async with ctx.session.begin_nested():
            ctx.session.add(member)
    except IntegrityError:
        raise errors.already_in_team() from None


# ---- placing: open or join ----------------------------------------------------------------


async def open_team(
    ctx: TenantContext, activity: GroupActivity, order: Order, sku_id: str, quantity: int
) -> GroupTeam:
    """A new team led by the order's member; it forms once this order is paid."""
    team = GroupTeam(
        activity_id=activity.id,
        product_id=activity.product_id,
        leader_id=order.member_id,
        status="opening",
        size=activity.team_size,
        seats=1,
        time_limit_minutes=activity.time_limit_minutes,
        virtual_percent=activity.virtual_percent,
    )
    ctx.session.add(team)
    await ctx.session.flush()
    await _add_member(
        ctx,
        GroupMember(
            team_id=team.id,
            activity_id=activity.id,
            member_id=order.member_id,
            order_id=order.id,
            sku_id=sku_id,
            quantity=quantity,
            is_leader=True,
            open_activity=activity.id,
        ),
    )
    return team


async def joinable_team(ctx: TenantContext, team_id: str, member_id: str) -> GroupTeam:
    """The team a member asks to join, or the reason they cannot (before any write)."""
    team = await ctx.session.get(GroupTeam, (ctx.tenant_id, team_id))
    if team is None or team.status in ("opening", "cancelled"):
        raise errors.team_not_found()
    mine = await ctx.session.scalar(
        select(GroupMember.id).where(
            GroupMember.team_id == team.id,
            GroupMember.member_id == member_id,
            GroupMember.status.in_(IN_TEAM),
        )
    )
    if mine is not None:
        raise errors.own_team()
    _refuse_closed(team)
    return team


def _refuse_closed(team: GroupTeam) -> None:
    # Out of time is out of time, whether or not the expiry job has been by yet.
    over = team.expires_at is not None and team.expires_at <= utcnow()
    if team.close_reason == "expired" or (team.status == "forming" and over):
        raise errors.team_expired()
    if team.status != "forming":
        raise errors.team_closed(team.status)
    if team.seats >= team.size:
        raise errors.team_full()


async def take_seat(
    ctx: TenantContext, team: GroupTeam, order: Order, sku_id: str, quantity: int
) -> None:
    """Hold a place for ``order``: one conditional UPDATE decides between racing buyers."""
    await _add_member(
        ctx,
        GroupMember(
            team_id=team.id,
            activity_id=team.activity_id,
            member_id=order.member_id,
            order_id=order.id,
            sku_id=sku_id,
            quantity=quantity,
            open_activity=team.activity_id,
        ),
    )
    taken = await ctx.session.scalar(
        update(GroupTeam)
        .where(
            GroupTeam.id == team.id,
            GroupTeam.status == "forming",
            GroupTeam.seats < GroupTeam.size,
            GroupTeam.expires_at > utcnow(),
        )
        .values(seats=GroupTeam.seats + 1)
        .returning(GroupTeam.id)
        .execution_options(synchronize_session=False)
    )
    if taken is None:  # lost the race: say why, from the row as it is now
        fresh = await ctx.session.get(GroupTeam, (ctx.tenant_id, team.id), populate_existing=True)
        assert fresh is not None
        _refuse_closed(fresh)
        raise errors.team_full()


# ---- acting hooks --------------------------------------------------------------------------


async def member_paid(ctx: TenantContext, order: Order) -> None:
    """``order_paid``: the leader's payment starts the team; a member's may complete it. A
    payment for a team that closed while it was on its way is refunded at once."""
    place = await member_of_order(ctx, order.id)
    if place is None or place.status != "held":
        return
    team = await _lock(ctx, place.team_id)
    now = utcnow()
    if team.status == "opening":
        team.status, team.opened_at = "forming", now
        team.expires_at = now + timedelta(minutes=team.time_limit_minutes)
        team.paid = 1
        place.status, place.paid_at = "paid", now
        delay = team.time_limit_minutes * 60
        await ctx.jobs.enqueue_in(
            delay,
            EXPIRE_JOB,
            key=job_key(EXPIRE_JOB, ctx.tenant_id, team.id),
            tenant_id=ctx.tenant_id,
            team_id=team.id,
        )
        return
    if team.status != "forming":
        reason = FAILED_REASON if team.status == "failed" else CLOSED_REASON
        await _refund_place(ctx, team, place, order, reason, ACTOR)
        return
    team.paid += 1
    place.status, place.paid_at = "paid", now
    if team.paid >= team.size:
        await succeed(ctx, team)


async def member_released(ctx: TenantContext, order: Order) -> None:
    """``order_cancelled``: an unpaid place goes back; a leader who never paid ends the team."""
    place = await member_of_order(ctx, order.id)
    if place is None or place.status != "held":
        return
    team = await _lock(ctx, place.team_id)
    now = utcnow()
    place.status, place.open_activity, place.closed_at = "released", None, now
    if team.status in ("opening", "forming"):
        team.seats -= 1
    if team.status == "opening":
        team.status, team.closed_at, team.close_reason = "cancelled", now, "leader did not pay"


async def member_refunded(ctx: TenantContext, refund: Refund, order: Order) -> None:
    """``refund_succeeded``: a member whose whole order was refunded before the team succeeded
    leaves it; the place opens again. After success a refund is after-sales: the team stays."""
    if order.refunded_amount < order.paid_amount:
        return
    place = await member_of_order(ctx, order.id)
    if place is None or place.status != "paid":
        return
    team = await _lock(ctx, place.team_id)
    if team.status != "forming":
        return
    now = utcnow()
    place.status, place.open_activity, place.closed_at = "left", None, now
    team.paid -= 1
    team.seats -= 1
    if team.paid == 0 and team.seats == 0:  # nobody is left: nothing to wait for
        _mark_failed(team, "everyone left")


# ---- success and failure -------------------------------------------------------------------


async def _places(ctx: TenantContext, team_id: str, *statuses: str) -> list[GroupMember]:
    rows = await ctx.session.scalars(
        select(GroupMember)
        .where(GroupMember.team_id == team_id, GroupMember.status.in_(statuses))
        .order_by(GroupMember.order_id)
    )
    return list(rows.all())


async def succeed(ctx: TenantContext, team: GroupTeam, placeholders: int = 0) -> None:
    """The team is complete: its paid orders may now be fulfilled (in this transaction)."""
    now = utcnow()
    team.status, team.closed_at, team.placeholders = "succeeded", now, placeholders
    team.close_reason = "virtual completion" if placeholders else "complete"
    for place in await _places(ctx, team.id, *IN_TEAM):
        place.open_activity = None
        if place.status != "paid":
            continue  # an unpaid place of a virtually completed team: settle_team cancels it
        order = await ctx.session.get(Order, (ctx.tenant_id, place.order_id))
        if order is not None:
            await release_fulfillment(ctx, order, HOLDER)
            await notices.notify_succeeded(ctx, team, order)
    if placeholders:
        await _settle_later(ctx, team)


def _mark_failed(team: GroupTeam, reason: str) -> None:
    team.status, team.closed_at, team.close_reason = "failed", utcnow(), reason[:40]


async def fail(ctx: TenantContext, team: GroupTeam, reason: str) -> None:
    """Mark the (locked) team failed; ``settle_team`` refunds and cancels its orders after
    the commit, one order per transaction."""
    _mark_failed(team, reason)
    # Its members may open or join another team at once, before their orders are settled.
    await ctx.session.execute(
        update(GroupMember)
        .where(GroupMember.team_id == team.id)
        .values(open_activity=None)
        .execution_options(synchronize_session=False)
    )
    await _settle_later(ctx, team)  # refunds each paid member and tells them


async def close_team(ctx: TenantContext, team_id: str, *, reason: str, actor: str) -> GroupTeam:
    """The merchant closes an open team: it fails, and its paid members are refunded."""
    team = await _lock(ctx, team_id)
    if team.status not in ("opening", "forming"):
        raise errors.team_closed(team.status)
    log.info("groupbuy: team %s of %s closed by %s: %s", team.id, ctx.tenant_id, actor, reason)
    await fail(ctx, team, reason)
    return team


async def close_all(ctx: TenantContext, reason: str) -> int:
    """The merchant switched the group-buy off: every open team fails, and its orders are
    refunded or cancelled (the jobs run with the plugin off). How many teams closed."""
    open_ids = await ctx.session.scalars(
        select(GroupTeam.id).where(GroupTeam.status.in_(OPEN_TEAM)).order_by(GroupTeam.id)
    )
    closed = 0
    for team_id in list(open_ids.all()):
        team = await _lock(ctx, team_id)
        if team.status in OPEN_TEAM:
            await fail(ctx, team, reason)
            closed += 1
    return closed


async def _settle_later(ctx: TenantContext, team: GroupTeam) -> None:
    await ctx.jobs.enqueue(
        SETTLE_JOB,
        key=job_key(SETTLE_JOB, ctx.tenant_id, team.id),
        tenant_id=ctx.tenant_id,
        team_id=team.id,
    )


async def expire_team(rt: Runtime, tenant: TenantInfo, team_id: str) -> str:
    """A forming team whose time is up: completed virtually if the activity allows it and
    enough paid, else failed. Returns what happened ("" when there was nothing to do)."""
    async with rt.tenant_context(tenant, _job(tenant, EXPIRE_JOB)) as ctx:
        team = await _lock(ctx, team_id)
        if team.status != "forming" or team.expires_at is None or team.expires_at > utcnow():
            return ""
        share = team.virtual_percent
        if share is not None and team.paid >= 1 and team.paid * 100 >= team.size * share:
            await succeed(ctx, team, placeholders=team.size - team.paid)
            return "succeeded"
        await fail(ctx, team, "expired")
        return "failed"


async def settle_team(rt: Runtime, tenant: TenantInfo, team_id: str) -> int:
    """Finish a closed team's orders: refund each paid order of a failed team, cancel every
    unpaid one. One order per transaction with the order locked first (the order a payment
    locks in), so a racing payment is either cancelled here or refunded by ``member_paid``.
    Idempotent: the places' statuses record what is done."""
    async with rt.db.read_session() as session:
        await rt.db.enter_tenant(session, tenant.id)
        status = await session.scalar(select(GroupTeam.status).where(GroupTeam.id == team_id))
        pending = list(
            (
                await session.scalars(
                    select(GroupMember.order_id)
                    .where(
                        GroupMember.team_id == team_id,
                        GroupMember.status.in_(IN_TEAM if status == "failed" else ("held",)),
                    )
                    .order_by(GroupMember.order_id)
                )
            ).all()
        )
    if status not in ("failed", "succeeded"):
        return 0
    settled, stuck = 0, 0
    for order_id in pending:
        try:
            settled += await _settle_order(rt, tenant, order_id)
        except AppError as exc:  # refused (a refund already holds the money): for a person
            log.error("groupbuy: order %s of %s not settled: %s", order_id, tenant.id, exc)
        except Exception:  # one stuck order must not stop the others
            stuck += 1
            log.exception("groupbuy: settling order %s of %s failed", order_id, tenant.id)
    if stuck:  # the job is retried; the minute sweep comes back to refused ones too
        raise SettleIncomplete(f"{stuck} orders of team {team_id} are not settled yet")
    return settled


async def _settle_order(rt: Runtime, tenant: TenantInfo, order_id: str) -> int:
    async with rt.tenant_context(tenant, _job(tenant, SETTLE_JOB)) as ctx:
        order = await lock_order(ctx, order_id)
        place = await member_of_order(ctx, order_id)
        if place is None:
            return 0
        team = await ctx.session.get(GroupTeam, (ctx.tenant_id, place.team_id))
        assert team is not None  # a place belongs to its team
        if place.status == "held" and order.status == "pending_payment":
            await transition(
                ctx, order, "cancelled", actor=f"job:{SETTLE_JOB}", reason=FAILED_REASON
            )
            # The order_cancelled hook did this, unless the plugin has been switched off.
            await member_released(ctx, order)
            return 1
        if place.status == "paid" and team.status == "failed":
            await _refund_place(ctx, team, place, order, FAILED_REASON, f"job:{SETTLE_JOB}")
            return 1
        if place.status == "held":  # cancelled meanwhile without our hook (plugin off)
            place.status, place.open_activity, place.closed_at = "released", None, utcnow()
        return 0


async def _refund_place(
    ctx: TenantContext, team: GroupTeam, place: GroupMember, order: Order, reason: str, actor: str
) -> None:
    """A paid place of a closed team: failed, refunded in full, and its member told (once:
    the place leaves ``paid``/``held`` here, in the transaction that records the notice)."""
    place.status, place.open_activity, place.closed_at = "failed", None, utcnow()
    await refund_order(ctx, order, reason=reason, actor=actor)
    await notices.notify_failed(ctx, team, order, reason)


def _job(tenant: TenantInfo, job: str) -> Principal:
    return Principal(kind="job", id=job, tenant_id=tenant.id)
