"""Lists in the console: the links of cursor paging, keeping the list's filters.

A list page passes ``paging(request, page.next_cursor)`` to its template and shows it with
``{% import "console/paging.html" as p %}{{ p.pager(paging) }}``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request


def paging(request: Request[Any, Any, Any], next_cursor: str | None) -> dict[str, str]:
    """``first`` (the list from its start, when this is not it) and ``next`` (when there
    is more): this page's URL with the same filters and another cursor."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor" and v]
    path = request.url.path
    links = {}
    if request.query_params.get("cursor"):
        links["first"] = path + ("?" + urlencode(query) if query else "")
    if next_cursor:
        links["next"] = path + "?" + urlencode([*query, ("cursor", next_cursor)])
    return links
