"""What buyers see: the running and upcoming group-buys, one activity's prices, the teams a
buyer may join, a team's share page, the member's own teams, and the catalog decorations
(the group price and badge on product lists).

Other people in a team are shown as a nickname and an avatar only: never a member id, an
order id, a phone or an openid. Only members who paid are people of a team (an unpaid place
may still be released); of a failed team, those who had paid (refunded since) are shown, so
its share page still says who tried. Places filled by virtual completion are a count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select

from core.catalog.models import Product, Sku
from core.commerce import CatalogView, Decoration
from core.context import TenantContext
from core.db import ID_LENGTH, utcnow
from core.errors import AppError
from core.members.models import Member
from core.paging import decode_keyset, encode_keyset, keyset_page_of, keyset_paged
from plugins.groupbuy import errors
from plugins.groupbuy import schemas as s
from plugins.groupbuy.models import GroupActivity, GroupItem, GroupMember, GroupTeam
from plugins.groupbuy.rules import PLUGIN, PREFIX, get_activity, phase_of, settings_of

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EXPIRY_TAG = "expiry"


def _items_join() -> ColumnElement[bool]:
    return and_(
        GroupItem.tenant_id == GroupActivity.tenant_id, GroupItem.activity_id == GroupActivity.id
    )


async def list_live(ctx: TenantContext, limit: int, cursor: str | None) -> s.StoreActivityList:
    """Active group-buys that have not ended, of products on the shelf, in creation order,
    each with its lowest group price and the product's lowest price."""
    now = utcnow()
    query = (
        select(GroupActivity, Product, func.min(GroupItem.group_price))
        .join(GroupItem, _items_join())
        .join(
            Product,
            and_(
                Product.tenant_id == GroupActivity.tenant_id,
                Product.id == GroupActivity.product_id,
            ),
        )
        .where(
            GroupActivity.status == "active",
            GroupActivity.ends_at > now,
            Product.status == "on",
        )
        .group_by(GroupActivity.tenant_id, GroupActivity.id, Product.tenant_id, Product.id)
    )
    order = [(GroupActivity.id, False)]
    rows = (await ctx.session.execute(keyset_paged(query, order, limit, cursor, "live"))).all()

    def card(row: tuple[GroupActivity, Product, int]) -> s.StoreActivityCard:
        activity, product, lowest = row
        return s.StoreActivityCard(
            id=activity.id,
            product_id=activity.product_id,
            title=activity.title,
            image=product.images[0] if product.images else "",
            phase=phase_of(activity, now),
            team_size=activity.team_size,
            min_group_price=int(lowest),
            min_price=product.min_price,
            starts_at=activity.starts_at,
            ends_at=activity.ends_at,
        )

    page = keyset_page_of(rows, limit, card, lambda row: [row[0].id], "live")
    return s.StoreActivityList(server_time=now, items=page.items, next_cursor=page.next_cursor)


async def visible_activity(ctx: TenantContext, activity_id: str) -> GroupActivity:
    """An activity buyers may see: a stopped one is gone (an ended one still shows)."""
    activity = await get_activity(ctx, activity_id)
    if activity.status != "active":
        raise errors.activity_not_found()
    return activity


def _sku_label(sku: Sku) -> str:
    specs = sku.specs if isinstance(sku.specs, dict) else {}
    return " / ".join(str(specs[name]) for name in sorted(specs))


async def detail(ctx: TenantContext, activity_id: str) -> s.StoreActivity:
    activity = await visible_activity(ctx, activity_id)
    now = utcnow()
    product = await ctx.session.get(Product, (ctx.tenant_id, activity.product_id))
    rows = (
        await ctx.session.execute(
            select(GroupItem, Sku)
            .join(Sku, and_(Sku.tenant_id == GroupItem.tenant_id, Sku.id == GroupItem.sku_id))
            .where(GroupItem.activity_id == activity.id)
            .order_by(GroupItem.sku_id)
        )
    ).all()
    return s.StoreActivity(
        server_time=now,
        id=activity.id,
        product_id=activity.product_id,
        title=activity.title,
        image=product.images[0] if product is not None and product.images else "",
        phase=phase_of(activity, now),
        team_size=activity.team_size,
        time_limit_hours=activity.time_limit_minutes // 60,
        starts_at=activity.starts_at,
        ends_at=activity.ends_at,
        order_limit=activity.order_limit,
        member_limit=activity.member_limit,
        allow_solo=activity.allow_solo,
        items=[
            s.StoreItem(
                sku_id=item.sku_id,
                sku_label=_sku_label(sku),
                price=sku.price,
                group_price=item.group_price,
            )
            for item, sku in rows
        ],
    )


# ---- teams ---------------------------------------------------------------------------------


async def _people(ctx: TenantContext, team_ids: Sequence[str]) -> dict[str, list[s.TeamPerson]]:
    """The shown people of each team (see the module's docstring), the leader first: one
    query for all the teams of a page."""
    people: dict[str, list[s.TeamPerson]] = {team_id: [] for team_id in team_ids}
    if not people:
        return people
    rows = await ctx.session.execute(
        select(GroupMember, Member.nickname, Member.avatar_url)
        .join(
            Member,
            and_(Member.tenant_id == GroupMember.tenant_id, Member.id == GroupMember.member_id),
        )
        .where(
            GroupMember.team_id.in_(list(people)),
            or_(
                GroupMember.status == "paid",
                and_(GroupMember.status == "failed", GroupMember.paid_at.is_not(None)),
            ),
        )
        .order_by(GroupMember.is_leader.desc(), GroupMember.paid_at, GroupMember.id)
    )
    for row, nickname, avatar_url in rows:
        people[row.team_id].append(
            s.TeamPerson(
                nickname=nickname,
                avatar_url=avatar_url,
                is_leader=row.is_leader,
                joined_at=row.paid_at or row.created_at,
            )
        )
    return people


def store_team(team: GroupTeam, people: list[s.TeamPerson], now: datetime) -> s.StoreTeam:
    return s.StoreTeam(
        server_time=now,
        id=team.id,
        activity_id=team.activity_id,
        product_id=team.product_id,
        status=team.status,  # type: ignore[arg-type]  # one of TEAM_STATUSES
        size=team.size,
        # Only a forming team has places to take; a virtual completion's are its placeholders.
        slots_left=max(team.size - team.seats, 0) if team.status == "forming" else 0,
        expires_at=team.expires_at,
        leader=next((person for person in people if person.is_leader), None),
        members=people,
        placeholders=team.placeholders,
    )


def _expiry_cursor(team: GroupTeam) -> list[str | int]:
    # The keyset helpers take ints and alphanumeric strings: the expiry goes as microseconds.
    assert team.expires_at is not None
    micros = (team.expires_at - _EPOCH) // timedelta(microseconds=1)
    return [str(micros), team.id]


async def joinable(
    ctx: TenantContext,
    limit: int,
    cursor: str | None,
    product_id: str | None,
    activity_id: str | None,
) -> s.StoreTeamList:
    """Forming teams with a free place and time left, in an activity still running: the
    soonest to expire first (those need people most)."""
    now = utcnow()
    query = (
        select(GroupTeam)
        .join(
            GroupActivity,
            and_(
                GroupActivity.tenant_id == GroupTeam.tenant_id,
                GroupActivity.id == GroupTeam.activity_id,
            ),
        )
        .where(
            GroupTeam.status == "forming",
            GroupTeam.expires_at > now,
            GroupTeam.seats < GroupTeam.size,
            GroupActivity.status == "active",
            GroupActivity.ends_at > now,
        )
    )
    if product_id is not None:
        query = query.where(GroupTeam.product_id == product_id)
    if activity_id is not None:
        query = query.where(GroupTeam.activity_id == activity_id)
    after = decode_keyset(cursor, _EXPIRY_TAG, [str, str])
    if after is not None:
        if not str(after[0]).isdigit():
            raise AppError("malformed cursor", code="request.invalid_cursor")
        expiry = _EPOCH + timedelta(microseconds=int(after[0]))
        query = query.where(
            or_(
                GroupTeam.expires_at > expiry,
                and_(GroupTeam.expires_at == expiry, GroupTeam.id > after[1]),
            )
        )
    query = query.order_by(GroupTeam.expires_at, GroupTeam.id).limit(limit + 1)
    teams = list((await ctx.session.scalars(query)).all())
    people = await _people(ctx, [team.id for team in teams[:limit]])
    visible = teams[:limit]
    next_cursor = (
        encode_keyset(_EXPIRY_TAG, _expiry_cursor(visible[-1])) if len(teams) > limit else None
    )
    return s.StoreTeamList(
        server_time=now,
        items=[store_team(team, people[team.id], now) for team in visible],
        next_cursor=next_cursor,
    )


async def team_page(ctx: TenantContext, team_id: str) -> s.StoreTeam:
    """The share page of a team: any team whose leader paid. One still opening (its leader
    has not paid) or cancelled (never paid) is nobody's business."""
    team = None
    if len(team_id) <= ID_LENGTH:
        team = await ctx.session.get(GroupTeam, (ctx.tenant_id, team_id))
    if team is None or team.status in ("opening", "cancelled"):
        raise errors.team_not_found()
    people = await _people(ctx, [team.id])
    return store_team(team, people[team.id], utcnow())


async def my_teams(
    ctx: TenantContext, member_id: str, limit: int, cursor: str | None
) -> s.MyTeamList:
    """The member's places in teams, newest first, each with its team as others see it."""
    query = (
        select(GroupMember, GroupTeam)
        .join(
            GroupTeam,
            and_(GroupTeam.tenant_id == GroupMember.tenant_id, GroupTeam.id == GroupMember.team_id),
        )
        .where(GroupMember.member_id == member_id)
    )
    order = [(GroupMember.id, True)]
    rows = (await ctx.session.execute(keyset_paged(query, order, limit, cursor, "mine"))).all()
    people = await _people(ctx, list({team.id: None for _, team in rows[:limit]}))
    now = utcnow()
    page = keyset_page_of(
        rows,
        limit,
        lambda row: s.MyTeam(
            team=store_team(row[1], people[row[1].id], now),
            order_id=row[0].order_id,
            my_status=row[0].status,
            is_leader=row[0].is_leader,
        ),
        lambda row: [row[0].id],
        "mine",
    )
    return s.MyTeamList(items=page.items, next_cursor=page.next_cursor)


# ---- catalog decorations -------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    badge: str
    prices: dict[str, tuple[str, int]]  # product id -> (activity id, lowest group price)


async def load_catalog(ctx: TenantContext, view: CatalogView) -> None:
    """One query for the whole list: the lowest group price of each product in a running
    group-buy. The badge comes from the store's settings, read here: the deciding hook sees
    only the view."""
    prices: dict[str, tuple[str, int]] = {}
    ids = [card.id for card in view.products]
    if ids:
        now = utcnow()
        rows = await ctx.session.execute(
            select(GroupActivity.product_id, GroupActivity.id, func.min(GroupItem.group_price))
            .join(GroupItem, _items_join())
            .where(
                GroupActivity.product_id.in_(ids),
                GroupActivity.status == "active",
                GroupActivity.starts_at <= now,
                GroupActivity.ends_at > now,
            )
            .group_by(GroupActivity.tenant_id, GroupActivity.id)
        )
        for product_id, activity_id, lowest in rows:
            if product_id not in prices or lowest < prices[product_id][1]:
                prices[product_id] = (activity_id, int(lowest))
    view.plugin_data[PLUGIN] = _Found(badge=settings_of(ctx.tenant).badge, prices=prices)


def decorations(view: CatalogView) -> list[Decoration]:
    found = view.plugin_data.get(PLUGIN)
    if not isinstance(found, _Found):
        return []
    return [
        Decoration(
            product_id=card.id,
            source=PLUGIN,
            badge=found.badge,
            activity_price=price,
            activity=f"{PREFIX}{activity_id}",
        )
        for card in view.products
        if (hit := found.prices.get(card.id)) is not None
        for activity_id, price in [hit]
    ]
