"""Request and response bodies of the store settings API.

Money is integer fen. ``PUT`` changes the fields it names and keeps the others (the AppSecret
is write-only, so a full replacement could not be expressed); ``null`` clears a nullable field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

# PostgreSQL's integer is 32-bit; a bound well inside it keeps a huge value a 400, not a 500.
MAX_FEN = 100_000_000  # ¥1,000,000

AppId = Annotated[
    str, msgspec.Meta(pattern=r"^wx[0-9a-f]{16}$", description="The mini-program's AppID")
]
AppSecret = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9a-f]{32}$",
        description="The mini-program's AppSecret (32 hex characters); write-only",
    ),
]
Fen = Annotated[int, msgspec.Meta(ge=0, le=MAX_FEN)]


class StoreSettingsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    payment_window_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] | UnsetType = UNSET
    shipping_fee: Fen | UnsetType = UNSET
    # null: no free shipping.
    free_shipping_threshold: Fen | UnsetType | None = UNSET
    auto_complete_days: Annotated[int, msgspec.Meta(ge=1, le=60)] | UnsetType = UNSET
    # The owner alone sets these; null clears.
    wechat_appid: AppId | UnsetType | None = UNSET
    wechat_secret: AppSecret | UnsetType | None = UNSET


class StoreSettingsOut(msgspec.Struct, kw_only=True):
    payment_window_minutes: int
    shipping_fee: int
    free_shipping_threshold: int | None
    auto_complete_days: int
    wechat_appid: str
    wechat_secret_set: bool
    # sha256 prefix of the AppSecret, to tell two values apart; never the secret itself.
    wechat_secret_fingerprint: str | None
    updated_at: datetime
