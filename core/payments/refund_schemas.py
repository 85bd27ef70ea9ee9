"""Request and response bodies of the refund APIs (storefront and merchant)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from core.cart.schemas import MAX_QUANTITY_INPUT
from core.orders.schemas import MAX_LINES, Id, Reason

Quantity = Annotated[int, msgspec.Meta(ge=1, le=MAX_QUANTITY_INPUT)]
# Fen; the refund's column and the orders' are 32-bit, so anything larger is bad input.
Amount = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
PhotoUrl = Annotated[str, msgspec.Meta(pattern=r"^https?://\S+$", max_length=500)]
MAX_PHOTOS = 9
Status = Literal["requested", "rejected", "withdrawn", "processing", "succeeded", "failed"]


class RefundLineIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    line_id: Id
    quantity: Quantity


Lines = Annotated[list[RefundLineIn], msgspec.Meta(min_length=1, max_length=MAX_LINES)]


class RefundIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A member's request. ``lines`` null refunds the whole order; ``amount`` null asks for
    all that those lines (or the order) are worth, a smaller amount for less."""

    reason: Reason
    lines: Lines | None = None
    amount: Amount | None = None
    photos: Annotated[list[PhotoUrl], msgspec.Meta(max_length=MAX_PHOTOS)] = []


class MerchantRefundIn(RefundIn, kw_only=True, forbid_unknown_fields=True):
    """A merchant's direct refund; ``restock`` null returns the stock of an order that has
    not shipped."""

    restock: bool | None = None


class ApproveIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    restock: bool | None = None


class RejectIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason


class RefundLineOut(msgspec.Struct, kw_only=True):
    line_id: str
    quantity: int
    amount: int  # fen those units are worth (the refund's amount may be less)


class RefundQuoteOut(msgspec.Struct, kw_only=True):
    """What a merchant's refund would give back, before making it."""

    order_id: str
    amount: int
    whole_order: bool
    lines: list[RefundLineOut]  # the units per line (none for a whole order or money only)
    restock: bool  # whether the units' stock would be returned


class RefundOut(msgspec.Struct, kw_only=True):
    id: str
    order_id: str
    status: str
    amount: int
    whole_order: bool
    lines: list[RefundLineOut]
    reason: str
    photos: list[str]
    reject_reason: str
    restock: bool
    created_at: datetime
    decided_at: datetime | None
    succeeded_at: datetime | None


class MerchantRefundOut(RefundOut, kw_only=True):
    """The merchant's view adds who asked and decided, and the provider's side."""

    member_id: str
    requested_by: str
    decided_by: str
    provider: str
    provider_refund_id: str
    provider_status: str
    checked_at: datetime | None
