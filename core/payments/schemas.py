"""Request and response bodies of the payments APIs: the merchant's payment accounts and the
buyer's pay call.

Money is integer fen. A payment account's secret fields are write-only: ``AccountOut`` shows
their fingerprints, never their values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

ProviderName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class AccountIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``config`` is the provider's own fields (``GET`` shows their schema). A secret field
    left out (or ``null`` or ``""``) keeps the stored one, so changing the AppID does not mean
    pasting the keys again; the first save needs them all. ``active: true`` makes this the
    account buyers pay through (the others stop being active); left out, it stays as it was."""

    config: Annotated[dict[str, Any], msgspec.Meta(max_length=50)]
    active: bool | UnsetType = UNSET


class AccountOut(msgspec.Struct, kw_only=True):
    provider: str
    title: str
    # False for the sandbox on a deployment that does not allow it.
    available: bool
    configured: bool
    active: bool
    config: dict[str, Any]  # the non-secret fields
    # sha256 prefixes of the secret fields, to tell two values apart; never the secrets.
    fingerprints: dict[str, str]
    secret_fields: list[str]
    config_schema: dict[str, Any]
    # Where the provider sends its notifications for this store.
    notify_url: str
    updated_at: datetime | None


class PayIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which provider to pay with; left out, the store's active account."""

    provider: ProviderName | None = None


class PayOut(msgspec.Struct, kw_only=True):
    """What the app needs to pay. ``params`` go to the payment sheet as they are (WeChat:
    ``wx.requestPayment({...params})``); they are empty once the payment has succeeded (the
    sandbox settles at once). An order with nothing to pay is paid on the spot, without a
    provider: ``payment_id`` and ``provider`` are then ``null``."""

    payment_id: str | None
    provider: str | None
    amount: int
    status: Literal["pending", "succeeded"]
    order_status: str
    params: dict[str, str]
