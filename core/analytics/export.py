"""CSV export of any analytics table: the same rows the JSON API returns, one line each.

Nested records are flattened (``funnel.visitors``), lists become numbered columns
(``retained_1``, ``retained_2``, …). A text cell that a spreadsheet would run as a formula
(it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with ``'``:
product titles and nicknames come from outside."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from typing import Any

import msgspec
from litestar import Response

from core.analytics import buyers, periods, service
from core.context import TenantContext
from core.errors import NotFound

FORMULA = ("=", "+", "-", "@", "\t", "\r")


TABLES = ("days", "products", "sources", "segments", "cohorts")


async def table(
    ctx: TenantContext,
    lens: service.Lens,
    name: str,
    start: date | None = None,
    end: date | None = None,
    months: int = buyers.COHORT_MONTHS,
) -> tuple[list[Any], str]:
    """Any table's rows and a file name for them (the CSV export of the API and console)."""
    rows: list[Any]
    if name == "days":
        rows = await service.days_table(ctx, lens, start, end)
    elif name == "products":
        rows = await service.products_table(ctx, lens, start, end, 1000)
    elif name == "sources":
        rows = await service.sources_table(ctx, lens, start, end)
    elif name == "segments":
        return (await buyers.segment_sizes(ctx)).segments, "segments"
    elif name == "cohorts":
        return (await buyers.cohorts(ctx, months)).rows, "cohorts"
    else:
        raise NotFound(f"no table {name!r}", code="analytics.unknown_table")
    first, last = periods.date_range(start, end)
    return rows, f"{name}-{first}-{last}"


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            _flatten(getattr(value, name), f"{prefix}{name}.", out)
    elif isinstance(value, list):
        for index, item in enumerate(value, start=1):
            if not isinstance(item, (msgspec.Struct, list, dict)):
                out[f"{prefix[:-1]}_{index}"] = item
    elif not isinstance(value, dict):
        out[prefix[:-1]] = value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA):
        return "'" + value
    return value


def to_csv(rows: Sequence[msgspec.Struct]) -> str:
    flat = []
    for row in rows:
        cells: dict[str, Any] = {}
        _flatten(row, "", cells)
        flat.append(cells)
    columns: list[str] = []
    for cells in flat:
        columns.extend(name for name in cells if name not in columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for cells in flat:
        writer.writerow([_cell(cells.get(name)) for name in columns])
    return buffer.getvalue()


def csv_response(rows: Sequence[msgspec.Struct], name: str) -> Response[bytes]:
    """``rows`` as a CSV download named ``name``.csv (UTF-8 with a BOM, which Excel needs to
    read Chinese text)."""
    return Response(
        content=b"\xef\xbb\xbf" + to_csv(rows).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
