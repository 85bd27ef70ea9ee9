"""Request and response bodies of the catalog: the merchant API and the storefront.

Every limit a column has is checked here first, so bad input is a 400 naming the field and
never a database error. Money is integer fen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

MAX_FEN = 100_000_000  # 1,000,000 CNY: far above any mini-program item, far below int32
MAX_QUANTITY = 10_000_000
MAX_SKUS = 100  # per product; a spec grid bigger than this is a data problem
MAX_BULK = 100  # product ids in one shelf request

# Text patterns. PostgreSQL cannot store NUL (a 500 there, silently kept by SQLite), and
# one-line fields have no business holding control characters, so both are refused here.
# Every pattern sits beside a max_length, which msgspec checks first: the regexes stay cheap.
_CTRL = r"\x00-\x1f\x7f"
ONE_LINE = rf"^[^{_CTRL}]*\Z"
NOT_BLANK = rf"^[^{_CTRL}]*[^\s{_CTRL}][^{_CTRL}]*\Z"  # one line, some non-space
NO_NUL = r"^[^\x00]*\Z"

ID_LIKE = r"^[0-9A-Za-z]{1,64}\Z"  # ids in paths and query filters (a NUL is a 400)
Id = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Z]{26}\Z")]
Fen = Annotated[int, msgspec.Meta(ge=0, le=MAX_FEN)]
Quantity = Annotated[int, msgspec.Meta(ge=0, le=MAX_QUANTITY)]
SortKey = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]
CategoryName = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=NOT_BLANK)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=NOT_BLANK)]
Subtitle = Annotated[str, msgspec.Meta(max_length=200, pattern=ONE_LINE)]
Description = Annotated[str, msgspec.Meta(max_length=20_000, pattern=NO_NUL)]
ImageUrl = Annotated[
    str, msgspec.Meta(max_length=500, pattern=rf"^https?://[^\s/?#{_CTRL}]+[^\s{_CTRL}]*\Z")
]
Images = Annotated[list[ImageUrl], msgspec.Meta(max_length=9)]  # WeChat's gallery limit
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern=NOT_BLANK)]
Tags = Annotated[list[Tag], msgspec.Meta(max_length=10)]
SpecName = Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern=NOT_BLANK)]
SpecValue = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=NOT_BLANK)]
Specs = Annotated[dict[SpecName, SpecValue], msgspec.Meta(max_length=5)]
# EAN-13/UPC/EAN-8 are digits, but shops also print in-store Code 128 labels, so letters,
# digits and ``._-`` are allowed; no check digit is enforced for the same reason.
BARCODE = r"^[0-9A-Za-z][0-9A-Za-z._-]{3,63}\Z"
Barcode = Annotated[str, msgspec.Meta(max_length=64, pattern=BARCODE)]
Weight = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]  # grams
ShelfStatus = Literal["on", "off"]
StockState = Literal["in_stock", "low", "sold_out"]
StoreSort = Literal["default", "sales", "price_asc", "price_desc", "new"]


# ---- categories ----------------------------------------------------------------------------


class CategoryIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: CategoryName
    parent_id: Id | None = None
    sort: SortKey = 0  # smaller first


class CategoryPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: CategoryName | UnsetType = UNSET
    parent_id: Id | UnsetType | None = UNSET  # null moves it to the top level
    sort: SortKey | UnsetType = UNSET


class CategoryOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    parent_id: str | None
    sort: int
    created_at: datetime


class CategoryNode(msgspec.Struct, kw_only=True):
    id: str
    name: str
    sort: int
    children: list[CategoryNode] = []


# ---- products and SKUs (merchant) ----------------------------------------------------------


class SkuIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    specs: Specs = {}
    price: Fen
    list_price: Fen | None = None  # the crossed-out price
    barcode: Barcode | None = None
    weight_g: Weight = 0
    stock: Quantity = 0  # opening stock, written to the ledger as "initial"
    safety_stock: Quantity = 0

    def __post_init__(self) -> None:
        if self.list_price is not None and self.list_price < self.price:
            raise ValueError("list_price must not be below price")


class ProductIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Title
    subtitle: Subtitle = ""
    images: Images = []
    description: Description = ""
    category_id: Id | None = None
    status: ShelfStatus = "off"
    sort: SortKey = 0
    tags: Tags = []
    skus: Annotated[list[SkuIn], msgspec.Meta(min_length=1, max_length=MAX_SKUS)]


class SkuPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """With ``id``: change that SKU. Without: add a new one (``price`` then required).
    SKUs are never deleted (orders and the ledger point at them): set ``active`` false."""

    id: Id | None = None
    specs: Specs | UnsetType = UNSET
    price: Fen | UnsetType = UNSET
    list_price: Fen | UnsetType | None = UNSET
    barcode: Barcode | UnsetType | None = UNSET
    weight_g: Weight | UnsetType = UNSET
    stock: Quantity | UnsetType = UNSET  # new SKUs only; later changes go through inventory
    safety_stock: Quantity | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class ProductPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Title | UnsetType = UNSET
    subtitle: Subtitle | UnsetType = UNSET
    images: Images | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    category_id: Id | UnsetType | None = UNSET
    status: ShelfStatus | UnsetType = UNSET
    sort: SortKey | UnsetType = UNSET
    tags: Tags | UnsetType = UNSET
    skus: Annotated[list[SkuPatch], msgspec.Meta(max_length=MAX_SKUS)] = []


class ShelfIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    product_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=MAX_BULK)]
    status: ShelfStatus


class ShelfOut(msgspec.Struct, kw_only=True):
    status: str
    product_ids: list[str]


class SkuOut(msgspec.Struct, kw_only=True):
    id: str
    product_id: str
    specs: dict[str, str]
    price: int
    list_price: int | None
    barcode: str | None
    weight_g: int
    stock: int
    safety_stock: int
    active: bool
    created_at: datetime


class ProductOut(msgspec.Struct, kw_only=True):
    id: str
    title: str
    subtitle: str
    images: list[str]
    description: str
    category_id: str | None
    status: str
    sort: int
    tags: list[str]
    sales: int
    min_price: int
    created_at: datetime
    updated_at: datetime
    skus: list[SkuOut]


class ProductSummary(msgspec.Struct, kw_only=True):
    id: str
    title: str
    image: str
    category_id: str | None
    status: str
    sort: int
    min_price: int
    sales: int
    sku_count: int  # active SKUs
    stock: int  # over active SKUs
    updated_at: datetime


# ---- storefront ----------------------------------------------------------------------------


class DecorationOut(msgspec.Struct, kw_only=True):
    source: str
    badge: str = ""
    activity_price: int | None = None
    activity: str = ""


class StoreProductCard(msgspec.Struct, kw_only=True):
    id: str
    title: str
    image: str
    category_id: str | None
    min_price: int
    sales: int
    stock_state: StockState
    badges: list[str]
    decorations: list[DecorationOut]


class StoreSku(msgspec.Struct, kw_only=True):
    id: str
    specs: dict[str, str]
    price: int
    list_price: int | None
    stock_state: StockState


class StoreProduct(msgspec.Struct, kw_only=True):
    id: str
    title: str
    subtitle: str
    images: list[str]
    description: str
    category_id: str | None
    tags: list[str]
    min_price: int
    sales: int
    stock_state: StockState
    skus: list[StoreSku]
    badges: list[str]
    decorations: list[DecorationOut]


class BarcodeHit(msgspec.Struct, kw_only=True):
    sku_id: str  # the scanned SKU, to put in the cart
    product: StoreProduct
