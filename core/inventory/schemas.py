"""Request and response bodies of the inventory merchant API and the ERP/POS sync."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from core.catalog.schemas import MAX_QUANTITY, NOT_BLANK, ONE_LINE, Quantity

MAX_SYNC_LINES = 500
Note = Annotated[str, msgspec.Meta(max_length=40, pattern=ONE_LINE)]
Delta = Annotated[int, msgspec.Meta(ge=-MAX_QUANTITY, le=MAX_QUANTITY)]
# Looked up, not stored: an id or barcode that is not ours is a per-line error, not a 400.
Lookup = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=NOT_BLANK)]


class StockSet(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    stock: Quantity
    note: Note = ""  # kept in the ledger row's ref, after who did it


class StockAdjust(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    delta: Delta  # non-zero
    note: Note = ""


class SafetyStockIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    safety_stock: Quantity


class StockOut(msgspec.Struct, kw_only=True):
    sku_id: str
    product_id: str
    stock: int
    safety_stock: int
    sellable: int  # what the storefront may sell: stock above the safety stock
    active: bool


class MovementOut(msgspec.Struct, kw_only=True):
    id: str
    sku_id: str
    delta: int
    balance: int
    reason: str
    ref: str
    created_at: datetime


class LowStockOut(msgspec.Struct, kw_only=True):
    sku_id: str
    product_id: str
    title: str
    specs: dict[str, str]
    barcode: str | None
    stock: int
    safety_stock: int


class SyncLine(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One SKU, named by exactly one of ``sku_id`` and ``barcode``."""

    sku_id: Lookup | None = None
    barcode: Lookup | None = None
    # absolute: the new stock (>= 0); delta: the change (the result must stay >= 0)
    quantity: Delta


class SyncIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mode: Literal["absolute", "delta"]
    lines: Annotated[list[SyncLine], msgspec.Meta(min_length=1, max_length=MAX_SYNC_LINES)]


class SyncLineOut(msgspec.Struct, kw_only=True):
    index: int
    sku_id: str
    barcode: str | None
    previous: int
    stock: int


class SyncOut(msgspec.Struct, kw_only=True):
    mode: str
    changed: int  # lines whose stock actually changed
    lines: list[SyncLineOut]
