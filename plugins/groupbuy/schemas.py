"""The group-buy plugin's settings and the bodies of its APIs (merchant and storefront)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from core.orders.schemas import Id, Method, Note, Quantity, SmallObject

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
Price = Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]
ActivityStatus = Literal["active", "stopped"]
TeamStatus = Literal["opening", "forming", "succeeded", "failed", "cancelled"]
Phase = Literal["upcoming", "running", "ended"]


class GroupBuySettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A merchant's settings of the group-buy plugin."""

    # Minutes a group-buy order may wait for payment while it holds a place in a team (never
    # past the team's expiry); the store's own window applies when it is shorter.
    payment_window_minutes: Annotated[int, msgspec.Meta(ge=1, le=120)] = 15
    badge: Annotated[str, msgspec.Meta(min_length=1, max_length=8)] = "拼团"


# ---- merchant ------------------------------------------------------------------------------


class ItemIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    sku_id: Id
    group_price: Price


class ActivityIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A group-buy for one product. ``time_limit_hours`` is how long a team forms after its
    leader paid; ``virtual_percent`` turns virtual completion on (a team whose paid members
    reach that percent of ``team_size`` at expiry is completed with placeholders)."""

    product_id: Id
    title: Title
    team_size: Annotated[int, msgspec.Meta(ge=2, le=100)]
    time_limit_hours: Annotated[int, msgspec.Meta(ge=1, le=720)] = 24
    starts_at: datetime
    ends_at: datetime
    items: Annotated[list[ItemIn], msgspec.Meta(min_length=1, max_length=200)]
    order_limit: Annotated[int, msgspec.Meta(ge=1, le=999)] = 1
    member_limit: Annotated[int, msgspec.Meta(ge=0, le=9999)] = 0  # 0: no limit
    allow_solo: bool = True
    virtual_percent: Annotated[int, msgspec.Meta(ge=1, le=99)] | None = None


class ItemOut(msgspec.Struct, kw_only=True):
    sku_id: str
    group_price: int


class ActivityOut(msgspec.Struct, kw_only=True):
    id: str
    product_id: str
    title: str
    status: ActivityStatus
    phase: Phase
    team_size: int
    time_limit_hours: int
    starts_at: datetime
    ends_at: datetime
    order_limit: int
    member_limit: int
    allow_solo: bool
    virtual_percent: int | None
    items: list[ItemOut]
    created_at: datetime
    stopped_at: datetime | None


class TeamMemberOut(msgspec.Struct, kw_only=True):
    member_id: str
    order_id: str
    is_leader: bool
    status: str
    quantity: int
    joined_at: datetime
    paid_at: datetime | None


class TeamOut(msgspec.Struct, kw_only=True):
    """A team as the merchant sees it."""

    id: str
    activity_id: str
    product_id: str
    leader_id: str
    status: TeamStatus
    size: int
    seats: int  # places held by unpaid orders plus paid ones
    paid: int
    placeholders: int
    created_at: datetime
    opened_at: datetime | None
    expires_at: datetime | None
    closed_at: datetime | None
    close_reason: str
    members: list[TeamMemberOut] = []


class CloseIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] = "closed by the merchant"


class StatsOut(msgspec.Struct, kw_only=True):
    activity_id: str
    teams_opened: int  # teams whose leader paid
    forming: int
    succeeded: int
    failed: int
    virtual_completions: int
    success_rate_percent: int  # succeeded per decided (succeeded + failed) team, rounded down
    orders_paid: int
    gmv: int  # fen paid by members of teams that did not fail, less refunds
    refunds: int  # fen refunded on the activity's orders (failed teams, members who left, ...)


# ---- storefront ----------------------------------------------------------------------------


class StoreItem(msgspec.Struct, kw_only=True):
    sku_id: str
    sku_label: str
    price: int
    group_price: int


class StoreActivityCard(msgspec.Struct, kw_only=True):
    id: str
    product_id: str
    title: str
    image: str
    phase: Phase
    team_size: int
    min_group_price: int
    min_price: int
    starts_at: datetime
    ends_at: datetime


class StoreActivityList(msgspec.Struct, kw_only=True):
    server_time: datetime
    items: list[StoreActivityCard]
    next_cursor: str | None = None


class StoreActivity(msgspec.Struct, kw_only=True):
    server_time: datetime
    id: str
    product_id: str
    title: str
    image: str
    phase: Phase
    team_size: int
    time_limit_hours: int
    starts_at: datetime
    ends_at: datetime
    order_limit: int
    member_limit: int
    allow_solo: bool
    items: list[StoreItem]


class TeamPerson(msgspec.Struct, kw_only=True):
    """A real member of a team as others see them: never an id, a phone or an openid."""

    nickname: str
    avatar_url: str
    is_leader: bool
    joined_at: datetime


class StoreTeam(msgspec.Struct, kw_only=True):
    server_time: datetime
    id: str
    activity_id: str
    product_id: str
    status: TeamStatus
    size: int
    slots_left: int
    expires_at: datetime | None
    leader: TeamPerson | None
    members: list[TeamPerson]  # paid members, the leader first
    # Places filled by virtual completion: counted, never shown as people.
    placeholders: int


class StoreTeamList(msgspec.Struct, kw_only=True):
    server_time: datetime
    items: list[StoreTeam]
    next_cursor: str | None = None


class MyTeam(msgspec.Struct, kw_only=True):
    team: StoreTeam
    order_id: str
    my_status: str  # held | paid | released | left | failed
    is_leader: bool


class MyTeamList(msgspec.Struct, kw_only=True):
    items: list[MyTeam]
    next_cursor: str | None = None


class BuyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    sku_id: Id
    quantity: Quantity = 1
    fulfillment: Method = "express"
    fulfillment_data: SmallObject = {}
    note: Note = ""
    options: SmallObject = {}


class BuyOut(msgspec.Struct, kw_only=True):
    """A group-buy order awaiting payment; its place in ``team_id`` is held until
    ``payment_deadline``. The leader's team starts forming when this order is paid."""

    status: str
    order_id: str
    number: str
    team_id: str
    activity_id: str
    sku_id: str
    quantity: int
    payable: int
    payment_deadline: datetime | None
