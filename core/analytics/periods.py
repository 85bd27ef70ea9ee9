"""The date ranges the analytics reads are asked for, and the share figures they report."""

from __future__ import annotations

from datetime import date, timedelta

from core.analytics.events import local_day
from core.errors import Invalid

MAX_DAYS = 366  # the longest range one request may ask for
DEFAULT_DAYS = 30


def ratio(part: int | float, whole: int | float) -> float:
    return round(part / whole, 4) if whole else 0.0


def date_range(
    start: date | None, end: date | None, today: date | None = None
) -> tuple[date, date]:
    """The range asked for, checked: ``end`` defaults to today and is cut there, ``start`` to
    30 days before ``end``; at most 366 days."""
    today = today or local_day()
    end = min(end or today, today)
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise Invalid(
            "the range starts after it ends (or in the future)", code="analytics.invalid_range"
        )
    if (end - start).days + 1 > MAX_DAYS:
        raise Invalid(f"at most {MAX_DAYS} days at a time", code="analytics.range_too_long")
    return start, end
