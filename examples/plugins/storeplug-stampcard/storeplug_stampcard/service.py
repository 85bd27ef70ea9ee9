"""The stamp card's rules, on a ``TenantContext``.

``stamp`` is the one way a stamp is given (a paid order, or a clerk at the counter): under
the member's row lock it skips a stamp it has given already, puts the new one on the
member's open card (opening one if need be), and when that fills the card issues the reward
coupon through the core coupons engine. A refusal there (sold out, stopped) leaves the card
full with the refusal's code, and ``retry_rewards`` tries again later.
"""

from __future__ import annotations

import msgspec
from core.context import TenantContext, TenantInfo
from core.coupons import service as coupons
from core.db import new_id, utcnow
from core.errors import AppError, NotFound
from core.members.models import Member
from sqlalchemy import func, select

from storeplug_stampcard.models import Stamp, StampCard
from storeplug_stampcard.schemas import CardOut, MyCardOut, StampCardSettings

PLUGIN = "stampcard"


def settings_of(tenant: TenantInfo) -> StampCardSettings:
    return msgspec.convert(tenant.plugin_configs.get(PLUGIN, {}), StampCardSettings)


def card_out(card: StampCard) -> CardOut:
    return CardOut(
        id=card.id,
        number=card.number,
        stamps=card.stamps,
        needed=card.needed,
        status=card.status,
        coupon_id=card.coupon_id,
        reward_error=card.reward_error,
        filled_at=card.filled_at,
        created_at=card.created_at,
    )


async def _lock_member(ctx: TenantContext, member_id: str) -> None:
    """Hold the member's row until the commit: their stamps are given one at a time. (On
    SQLite the write transaction already serialises everything.)"""
    found = await ctx.session.scalar(
        select(Member.id).where(Member.id == member_id).with_for_update()
    )
    if found is None:
        raise NotFound("no such member", code="member.not_found")


async def _open_card(ctx: TenantContext, member_id: str) -> StampCard:
    card = await ctx.session.scalar(
        select(StampCard).where(StampCard.member_id == member_id, StampCard.status == "open")
    )
    if card is not None:
        return card
    last = await ctx.session.scalar(
        select(func.max(StampCard.number)).where(StampCard.member_id == member_id)
    )
    card = StampCard(
        member_id=member_id,
        number=(last or 0) + 1,
        needed=settings_of(ctx.tenant).stamps_needed,
        stamps=0,
        status="open",
        reward_error="",
    )
    ctx.session.add(card)
    await ctx.session.flush()
    return card


async def _reward(ctx: TenantContext, card: StampCard) -> None:
    """Issue the full card's coupon, or note why it could not be issued."""
    template_id = settings_of(ctx.tenant).reward_template_id
    if not template_id:
        card.reward_error = ""  # nothing to give: the merchant rewards at the counter
        return
    try:
        coupon = await coupons.issue(
            ctx, template_id, card.member_id, source=PLUGIN, respect_limit=False
        )
    except AppError as exc:  # issue() changed nothing; the sweep tries again
        card.reward_error = exc.code[:40]
    else:
        card.coupon_id = coupon.id
        card.reward_error = ""


async def stamp(
    ctx: TenantContext, member_id: str, source: str, ref: str, given_by: str = ""
) -> tuple[StampCard, bool] | None:
    """Give ``member_id`` one stamp for (``source``, ``ref``): the card it went on and whether
    it filled it; None when that stamp was given before."""
    await _lock_member(ctx, member_id)
    given = await ctx.session.scalar(
        select(Stamp.id).where(Stamp.source == source, Stamp.ref == ref)
    )
    if given is not None:
        return None
    card = await _open_card(ctx, member_id)
    ctx.session.add(
        Stamp(card_id=card.id, member_id=member_id, source=source, ref=ref, given_by=given_by)
    )
    card.stamps += 1
    filled = card.stamps >= card.needed
    if filled:
        card.status = "full"
        card.filled_at = utcnow()
        await _reward(ctx, card)
    await ctx.session.flush()
    return card, filled


async def stamp_at_counter(
    ctx: TenantContext, member_id: str, clerk_id: str
) -> tuple[StampCard, bool]:
    result = await stamp(ctx, member_id, "counter", new_id(), given_by=clerk_id)
    assert result is not None  # a new ref is never a repeat
    return result


async def revoke_order_stamp(ctx: TenantContext, order_id: str) -> bool:
    """Take back a refunded order's stamp while its card is still open; a full card keeps it
    (its reward was earned and may be spent already). True when one was taken back."""
    found = await ctx.session.scalar(
        select(Stamp).where(Stamp.source == "order", Stamp.ref == order_id)
    )
    if found is None or found.status != "given":
        return False
    await _lock_member(ctx, found.member_id)
    card = await ctx.session.scalar(select(StampCard).where(StampCard.id == found.card_id))
    if card is None or card.status != "open":
        return False
    found.status = "revoked"
    card.stamps -= 1
    await ctx.session.flush()
    return True


async def my_card(ctx: TenantContext, member_id: str) -> MyCardOut:
    current = await ctx.session.scalar(
        select(StampCard).where(StampCard.member_id == member_id, StampCard.status == "open")
    )
    filled = await ctx.session.scalar(
        select(func.count())
        .select_from(StampCard)
        .where(StampCard.member_id == member_id, StampCard.status == "full")
    )
    return MyCardOut(
        current=card_out(current) if current is not None else None,
        stamps_needed=current.needed if current else settings_of(ctx.tenant).stamps_needed,
        cards_filled=filled or 0,
    )


async def cards_of(ctx: TenantContext, member_id: str) -> list[CardOut]:
    exists = await ctx.session.scalar(select(Member.id).where(Member.id == member_id))
    if exists is None:
        raise NotFound("no such member", code="member.not_found")
    rows = await ctx.session.scalars(
        select(StampCard).where(StampCard.member_id == member_id).order_by(StampCard.number)
    )
    return [card_out(row) for row in rows]


async def latest_filled(ctx: TenantContext, limit: int) -> list[CardOut]:
    rows = await ctx.session.scalars(
        select(StampCard)
        .where(StampCard.status == "full")
        .order_by(StampCard.filled_at.desc(), StampCard.id.desc())
        .limit(limit)
    )
    return [card_out(row) for row in rows]


async def retry_rewards(ctx: TenantContext) -> int:
    """Issue the coupons of full cards whose reward was refused before; how many now are."""
    due = await ctx.session.scalars(
        select(StampCard)
        .where(StampCard.status == "full", StampCard.reward_error != "")
        .order_by(StampCard.id)
        .with_for_update()
    )
    issued = 0
    for card in due.all():
        await _reward(ctx, card)
        issued += card.coupon_id is not None
    await ctx.session.flush()
    return issued
