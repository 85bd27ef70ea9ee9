"""Members on the storefront: WeChat sign-in, refresh sessions, profile, phone, addresses,
benefits, and the paid total that drives the level.

Sign-in and phone binding call WeChat while the buyer waits. They do that with no transaction
open (on SQLite an open transaction holds the write lock; on PostgreSQL a pooled connection),
then write in a short transaction of their own.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import msgspec
from msgspec import UNSET
from sqlalchemy import ColumnExpressionArgument, ScalarSelect, func, select, update
from sqlalchemy.exc import IntegrityError

from core.auth import hash_token, new_token
from core.commerce import Benefit, MemberView
from core.context import Principal, TenantContext, TenantInfo
from core.db import utcnow
from core.errors import AppError, Conflict, FieldError, NotFound, Unauthorized
from core.members import schemas as s
from core.members.models import Address, Member, MemberLevel, MemberSession
from core.members.tokens import REFRESH_TTL, issue_access_token
from core.plugins import call_acting
from core.store.service import wechat_credentials
from core.wechat import WeChat

if TYPE_CHECKING:
    from core.runtime import Runtime

REFRESH_PREFIX = "spr"
MAX_ADDRESSES = 20
OLDEST_BIRTHDAY = date(1900, 1, 1)
REUSE_GRACE = timedelta(seconds=60)


def level_brief(level: MemberLevel | None) -> s.LevelBrief | None:
    if level is None:
        return None
    return s.LevelBrief(id=level.id, name=level.name, discount_percent=level.discount_percent)


async def level_of(ctx: TenantContext, member: Member) -> MemberLevel | None:
    if member.level_id is None:
        return None
    return await ctx.session.get(MemberLevel, (ctx.tenant_id, member.level_id))


async def member_out(ctx: TenantContext, member: Member) -> s.MemberOut:
    return s.MemberOut(
        id=member.id,
        nickname=member.nickname,
        avatar_url=member.avatar_url,
        gender=member.gender,
        birthday=member.birthday,
        phone=member.phone,
        level=level_brief(await level_of(ctx, member)),
        total_paid=member.total_paid,
        source=member.source,
        created_at=member.created_at,
    )


async def current_member(ctx: TenantContext, member_id: str, *, lock: bool = False) -> Member:
    """The token's member; ``lock`` serialises changes to their addresses (FOR UPDATE)."""
    query = select(Member).where(Member.id == member_id)
    if lock:
        query = query.with_for_update()
    member = await ctx.session.scalar(query)
    if member is None:
        raise Unauthorized("this member no longer exists", code="auth.invalid_token")
    return member


# ---- sign-in and sessions ---------------------------------------------------------------


async def find_or_create(
    ctx: TenantContext, openid: str, unionid: str | None, source: str, source_ref: str
) -> tuple[Member, bool]:
    """The member with ``openid``, created if new: ``(member, created)``. Two first logins
    racing for one openid make one member: the unique (tenant_id, openid) decides, and the
    loser reads the winner's row."""
    member = await ctx.session.scalar(select(Member).where(Member.openid == openid))
    if member is not None:
        return member, False
    member = Member(openid=openid, unionid=unionid, source=source, source_ref=source_ref)
    try:
        async with ctx.session.begin_nested():
            ctx.session.add(member)
    except IntegrityError:
        existing = await ctx.session.scalar(select(Member).where(Member.openid == openid))
        if existing is None:
            raise
        return existing, False
    return member, True


async def _open_session(ctx: TenantContext, secret_key: str, member: Member) -> s.TokenOut:
    refresh_token = new_token(REFRESH_PREFIX)
    ctx.session.add(
        MemberSession(
            member_id=member.id,
            refresh_hash=hash_token(refresh_token),
            expires_at=utcnow() + REFRESH_TTL,
        )
    )
    access_token, expires_in = issue_access_token(secret_key, ctx.tenant_id, member.id)
    return s.TokenOut(
        access_token=access_token,
        token_type="Bearer",
        expires_in=expires_in,
        refresh_token=refresh_token,
        refresh_expires_in=int(REFRESH_TTL.total_seconds()),
        member=await member_out(ctx, member),
    )


async def wx_login(rt: Runtime, tenant: TenantInfo, data: s.WxLoginIn) -> s.TokenOut:
    """``wx.login`` code → openid (WeChat) → the member, created and announced
    (``member_registered``, once) on the first sign-in → tokens."""
    appid, secret = await wechat_credentials(rt, tenant.id)
    async with WeChat.of(rt) as wx:
        session = await wx.jscode2session(appid, secret, data.code)
    async with rt.tenant_context(tenant) as ctx:
        member, created = await find_or_create(
            ctx, session.openid, session.unionid, data.source, data.source_ref
        )
        ctx.principal = Principal(kind="member", id=member.id, role="member", tenant_id=tenant.id)
        if created:
            await call_acting(
                ctx.hooks.member_registered(
                    ctx=ctx, member=member, source=member.source, source_ref=member.source_ref
                )
            )
        else:
            member.last_login_at = utcnow()
            if session.unionid and member.unionid != session.unionid:
                member.unionid = session.unionid
        return await _open_session(ctx, rt.settings.secret_key, member)


async def refresh(rt: Runtime, tenant: TenantInfo, refresh_token: str) -> s.TokenOut:
    """A new access token and a new refresh token; the old refresh token ends.

    An ended refresh token presented again more than ``REUSE_GRACE`` after it ended is taken
    as stolen: every session of that member ends (OAuth 2.0 Security BCP, reuse detection).
    Within the grace it is only refused, so an app that sent two refreshes at once keeps the
    session the winner got."""
    digest = hash_token(refresh_token)
    now = utcnow()
    async with rt.tenant_context(tenant) as ctx:
        # One conditional UPDATE: of two requests racing with one token, one wins.
        member_id = await ctx.session.scalar(
            update(MemberSession)
            .where(
                MemberSession.refresh_hash == digest,
                MemberSession.revoked_at.is_(None),
                MemberSession.expires_at > now,
            )
            .values(revoked_at=now)
            .returning(MemberSession.member_id)
            .execution_options(synchronize_session=False)
        )
        if member_id is not None:
            member = await current_member(ctx, member_id)
            return await _open_session(ctx, rt.settings.secret_key, member)
        reused = await ctx.session.scalar(
            select(MemberSession.member_id).where(
                MemberSession.refresh_hash == digest,
                MemberSession.revoked_at < now - REUSE_GRACE,
            )
        )
        if reused is not None:
            await _end_sessions(ctx, reused)
    # Raised after the block so the revocation above commits.
    raise Unauthorized("the refresh token is invalid or has ended", code="auth.invalid_refresh")


async def _end_sessions(ctx: TenantContext, member_id: str) -> None:
    await ctx.session.execute(
        update(MemberSession)
        .where(MemberSession.member_id == member_id, MemberSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def logout(ctx: TenantContext, refresh_token: str) -> None:
    """End the session of this refresh token (an unknown one is no error, as in RFC 7009).
    Access tokens are checked without a query, so one already issued lives out its two
    hours; the app drops it."""
    await ctx.session.execute(
        update(MemberSession)
        .where(
            MemberSession.refresh_hash == hash_token(refresh_token),
            MemberSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


# ---- profile and phone -------------------------------------------------------------------


async def get_me(ctx: TenantContext, member_id: str) -> s.MemberOut:
    return await member_out(ctx, await current_member(ctx, member_id))


def _invalid(field: str, message: str) -> AppError:
    return AppError(
        f"{field} {message}",
        code="request.invalid",
        errors=[FieldError(field=field, message=message)],
    )


async def update_me(ctx: TenantContext, member_id: str, data: s.ProfilePatch) -> s.MemberOut:
    if isinstance(data.birthday, date) and data.birthday > utcnow().date():
        raise _invalid("birthday", "must not be in the future")
    if isinstance(data.birthday, date) and data.birthday < OLDEST_BIRTHDAY:
        raise _invalid("birthday", f"must be after {OLDEST_BIRTHDAY.isoformat()}")
    if isinstance(data.nickname, str) and not data.nickname.strip():
        raise _invalid("nickname", "must not be blank")
    member = await current_member(ctx, member_id)
    if data.nickname is not UNSET:
        member.nickname = data.nickname.strip()
    if data.avatar_url is not UNSET:
        member.avatar_url = data.avatar_url
    if data.gender is not UNSET:
        member.gender = data.gender
    if data.birthday is not UNSET:
        member.birthday = data.birthday
    await ctx.session.flush()
    return await member_out(ctx, member)


async def bind_phone(rt: Runtime, tenant: TenantInfo, member_id: str, code: str) -> s.MemberOut:
    """The phone number behind a ``getPhoneNumber`` code, stored on the member. Mainland
    numbers are kept as the 11 digits; others as +<country code><number>."""
    appid, secret = await wechat_credentials(rt, tenant.id)
    async with WeChat.of(rt) as wx:
        info = await wx.phone_number(appid, secret, code)
    phone = info.pure_phone_number
    if info.country_code not in ("", "86"):
        phone = f"+{info.country_code}{info.pure_phone_number}"
    async with rt.tenant_context(tenant) as ctx:
        member = await current_member(ctx, member_id)
        member.phone = phone[:20]
        return await member_out(ctx, member)


# ---- addresses ----------------------------------------------------------------------------


def address_out(row: Address) -> s.AddressOut:
    return s.AddressOut(
        id=row.id,
        name=row.name,
        phone=row.phone,
        province=row.province,
        city=row.city,
        district=row.district,
        detail=row.detail,
        is_default=row.is_default,
        created_at=row.created_at,
    )


async def addresses_of(ctx: TenantContext, member_id: str) -> list[Address]:
    rows = await ctx.session.scalars(
        select(Address)
        .where(Address.member_id == member_id)
        .order_by(Address.is_default.desc(), Address.id.desc())
    )
    return list(rows)


async def list_addresses(ctx: TenantContext, member_id: str) -> list[s.AddressOut]:
    return [address_out(row) for row in await addresses_of(ctx, member_id)]


async def _address(ctx: TenantContext, member_id: str, address_id: str) -> Address:
    # Scoped by the member: another member's address is simply not found.
    row = await ctx.session.scalar(
        select(Address).where(Address.id == address_id, Address.member_id == member_id)
    )
    if row is None:
        raise NotFound("no such address", code="address.not_found")
    return row


async def _unset_default(ctx: TenantContext, member_id: str, keep: str | None) -> None:
    query = update(Address).where(Address.member_id == member_id, Address.is_default.is_(True))
    if keep is not None:
        query = query.where(Address.id != keep)
    await ctx.session.execute(
        query.values(is_default=False).execution_options(synchronize_session="fetch")
    )


async def get_address(ctx: TenantContext, member_id: str, address_id: str) -> s.AddressOut:
    return address_out(await _address(ctx, member_id, address_id))


async def create_address(ctx: TenantContext, member_id: str, data: s.AddressIn) -> s.AddressOut:
    await current_member(ctx, member_id, lock=True)
    count = await ctx.session.scalar(
        select(func.count()).select_from(Address).where(Address.member_id == member_id)
    )
    if (count or 0) >= MAX_ADDRESSES:
        raise Conflict(
            f"at most {MAX_ADDRESSES} addresses; delete one first", code="address.limit_reached"
        )
    fields = msgspec.structs.asdict(data)
    fields["is_default"] = data.is_default or not count
    if fields["is_default"]:
        await _unset_default(ctx, member_id, None)
    row = Address(member_id=member_id, **fields)
    ctx.session.add(row)
    await ctx.session.flush()
    return address_out(row)


async def update_address(
    ctx: TenantContext, member_id: str, address_id: str, data: s.AddressPatch
) -> s.AddressOut:
    await current_member(ctx, member_id, lock=True)
    row = await _address(ctx, member_id, address_id)
    for name, value in msgspec.structs.asdict(data).items():
        if value is not UNSET:
            setattr(row, name, value)
    if data.is_default is True:
        await _unset_default(ctx, member_id, row.id)
    await ctx.session.flush()
    return address_out(row)


async def delete_address(ctx: TenantContext, member_id: str, address_id: str) -> None:
    """Deleting the default makes the newest remaining address the default."""
    await current_member(ctx, member_id, lock=True)
    row = await _address(ctx, member_id, address_id)
    await ctx.session.delete(row)
    await ctx.session.flush()
    if row.is_default:
        newest = await ctx.session.scalar(
            select(Address).where(Address.member_id == member_id).order_by(Address.id.desc())
        )
        if newest is not None:
            newest.is_default = True


# ---- levels, benefits and the paid total ---------------------------------------------------


async def member_view(ctx: TenantContext, member_id: str) -> MemberView:
    """The member as the deciding hooks see it (pricing, benefits)."""
    member = await current_member(ctx, member_id)
    level = await level_of(ctx, member)
    return MemberView(
        id=member.id,
        level_id=member.level_id,
        level_name=level.name if level else "",
        level_discount_percent=level.discount_percent if level else 0,
        total_paid=member.total_paid,
        tags=list(member.tags or []),
    )


async def benefits(ctx: TenantContext, member_id: str) -> list[Benefit]:
    view = await member_view(ctx, member_id)
    results = ctx.hooks.member_benefits(member=view)
    return [benefit for batch in results for benefit in batch or []]


def best_level_for(total: ColumnExpressionArgument[int]) -> ScalarSelect[str]:
    """A scalar subquery: the id of the highest level whose threshold is ≤ ``total`` (a
    column expression over ``members``), or NULL."""
    return (
        select(MemberLevel.id)
        .where(MemberLevel.tenant_id == Member.tenant_id, MemberLevel.threshold <= total)
        .order_by(MemberLevel.threshold.desc())
        .limit(1)
        .scalar_subquery()
    )


class PaidTotal(msgspec.Struct, frozen=True, kw_only=True):
    total_paid: int
    level_id: str | None
    promoted: bool  # the level changed


async def record_paid(ctx: TenantContext, member_id: str, amount: int) -> PaidTotal:
    """Add ``amount`` fen to the member's paid total and move them to the highest level whose
    threshold ≤ the new total. One UPDATE: concurrent payments of one member both count.
    The orders domain calls it when an order is paid; refunds do not lower it."""
    if amount < 0:
        raise ValueError("record_paid takes a paid amount (≥ 0)")
    before = await ctx.session.scalar(select(Member.level_id).where(Member.id == member_id))
    new_total = Member.total_paid + amount
    row = (
        await ctx.session.execute(
            update(Member)
            .where(Member.id == member_id)
            .values(total_paid=new_total, level_id=best_level_for(new_total))
            .returning(Member.total_paid, Member.level_id)
            .execution_options(synchronize_session="fetch")
        )
    ).first()
    if row is None:
        raise NotFound("no such member", code="member.not_found")
    return PaidTotal(total_paid=row[0], level_id=row[1], promoted=row[1] != before)
