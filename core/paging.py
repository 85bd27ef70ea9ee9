"""Cursor paging: ``?limit=&cursor=`` in, ``{items, next_cursor}`` out.

Lists are ordered by id (ULIDs are time-ordered), so the cursor is simply the last id seen,
base64-wrapped so clients treat it as opaque.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import msgspec
from sqlalchemy import Select

from core.errors import AppError

T = TypeVar("T")
R = TypeVar("R")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class Page(msgspec.Struct, Generic[T], kw_only=True):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise AppError("malformed cursor", code="request.invalid_cursor") from None
    if not raw.isalnum() or len(raw) > 64:
        raise AppError("malformed cursor", code="request.invalid_cursor")
    return raw


def paged(query: Select[Any], id_column: Any, limit: int, cursor: str | None) -> Select[Any]:
    """Apply cursor and limit; fetch one extra row to know whether there is a next page."""
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(id_column > after)
    return query.order_by(id_column).limit(limit + 1)


def page_of(
    rows: Sequence[R], limit: int, convert: Callable[[R], T], key: Callable[[R], str]
) -> Page[T]:
    """Turn the rows ``paged`` fetched into a page; the extra row only says "there is more"."""
    visible = rows[:limit]
    next_cursor = encode_cursor(key(visible[-1])) if len(rows) > limit else None
    return Page(items=[convert(row) for row in visible], next_cursor=next_cursor)
