"""Cursor paging: ``?limit=&cursor=`` in, ``{items, next_cursor}`` out.

Lists are ordered by id (ULIDs are time-ordered), so the cursor is simply the last id seen,
base64-wrapped so clients treat it as opaque. Lists sorted by another column use the keyset
helpers at the end, whose cursor holds the sort key and the id.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, TypeVarTuple

import msgspec
from sqlalchemy import ColumnElement, Select, and_, or_

from core.errors import AppError

T = TypeVar("T")
R = TypeVar("R")
Ts = TypeVarTuple("Ts")
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


# ---- keyset paging over a sort key ---------------------------------------------------------
# A list sorted by something other than the id (price, sales) pages by the sort key *and* the
# id: the cursor holds both values of the last row, and the next page starts strictly after
# that pair. No OFFSET, so a page costs the same however deep it is, and rows that move
# between requests never make a page skip or repeat the rows around them.

Key = int | str
OrderBy = Sequence[tuple[Any, bool]]  # (column, descending), the id column last
_INT32 = 2**31  # sort columns are 32-bit integers; a larger number in a cursor is forged


def encode_keyset(tag: str, values: Sequence[Key]) -> str:
    raw = msgspec.json.encode([tag, *values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_keyset(cursor: str | None, tag: str, types: Sequence[type]) -> list[Key] | None:
    """The values of a cursor made by ``encode_keyset`` for the same ``tag`` (the sort);
    anything else is a 400, never a database error from a value of the wrong type."""
    if not cursor:
        return None
    bad = AppError("malformed cursor", code="request.invalid_cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = msgspec.json.decode(raw, type=list[int | str])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise bad from None
    if len(decoded) != len(types) + 1 or decoded[0] != tag:
        raise bad
    values = decoded[1:]
    for value, expected in zip(values, types, strict=True):
        if type(value) is not expected:
            raise bad
        if isinstance(value, int) and not -_INT32 <= value < _INT32:
            raise bad
        if isinstance(value, str) and (len(value) > 64 or not value.isalnum()):
            raise bad
    return values


def _after(order: OrderBy, values: Sequence[Key]) -> ColumnElement[bool]:
    """``(a, b) > (x, y)`` spelled out, so each column may sort its own way:
    ``a > x OR (a = x AND b > y)`` with ``<`` for the descending ones."""
    clauses = []
    for i, (column, descending) in enumerate(order):
        equal = [c == v for (c, _), v in zip(order[:i], values[:i], strict=True)]
        beyond = column < values[i] if descending else column > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


def keyset_paged(
    query: Select[*Ts], order: OrderBy, limit: int, cursor: str | None, tag: str
) -> Select[*Ts]:
    """Order by ``order``, start after the cursor's row, fetch one extra row."""
    types = [column.type.python_type for column, _ in order]
    values = decode_keyset(cursor, tag, types)
    if values is not None:
        query = query.where(_after(order, values))
    ordering = [column.desc() if descending else column.asc() for column, descending in order]
    return query.order_by(*ordering).limit(limit + 1)


def keyset_page_of(
    rows: Sequence[R],
    limit: int,
    convert: Callable[[R], T],
    key: Callable[[R], Sequence[Key]],
    tag: str,
) -> Page[T]:
    """Like ``page_of``; ``key`` gives a row's values of the ``order`` columns."""
    visible = rows[:limit]
    next_cursor = encode_keyset(tag, key(visible[-1])) if len(rows) > limit else None
    return Page(items=[convert(row) for row in visible], next_cursor=next_cursor)
