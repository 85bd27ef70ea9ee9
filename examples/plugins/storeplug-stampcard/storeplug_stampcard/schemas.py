"""The stamp card's settings and its request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from core.db import ID_LENGTH


class StampCardSettings(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
):
    """A merchant's settings. A change applies to cards opened afterwards: an open card keeps
    the number of stamps it was opened with."""

    stamps_needed: Annotated[int, msgspec.Meta(ge=2, le=50)] = 10
    # Orders paying less than this (fen) earn no stamp.
    min_order_fen: Annotated[int, msgspec.Meta(ge=0, le=100_000_00)] = 0
    # The coupon template a full card earns (usually not claimable); "" for none.
    reward_template_id: Annotated[str, msgspec.Meta(max_length=ID_LENGTH)] = ""


class CardOut(msgspec.Struct, kw_only=True):
    id: str
    number: int
    stamps: int
    needed: int
    status: str
    coupon_id: str | None
    reward_error: str
    filled_at: datetime | None
    created_at: datetime


class MyCardOut(msgspec.Struct, kw_only=True):
    """What the member's stamp card page shows: the open card (None before the first stamp)
    and how many cards were filled."""

    current: CardOut | None
    stamps_needed: int
    cards_filled: int


class StampOut(msgspec.Struct, kw_only=True):
    """The result of a counter stamp: the card it went on, as it is now."""

    card: CardOut
    filled: bool  # this stamp filled the card
