"""Opening hours to pickup slots, and distances. Pure functions, no database.

Opening hours, holidays and slot starts are the store's local time (China Standard Time, no
daylight saving, as order numbers use); slots travel as UTC instants, which is what the buyer
sends back in ``fulfillment_data.slot``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from core.orders.placement import CST

EARTH_RADIUS_M = 6_371_000


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> int:
    """Great-circle distance in metres (haversine), rounded."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a))))


def _clock(text: str) -> timedelta:
    hours, minutes = text.split(":")
    return timedelta(hours=int(hours), minutes=int(minutes))


def day_slots(
    day: date, hours: Sequence[Any], holidays: Sequence[str], slot_minutes: int
) -> Iterator[datetime]:
    """The slot starts (UTC) of one local day: every whole slot inside an opening span."""
    if day.isoformat() in holidays or len(hours) != 7:
        return
    midnight = datetime.combine(day, time(0), tzinfo=CST)
    length = timedelta(minutes=slot_minutes)
    for span in hours[day.weekday()] or []:
        start, end = midnight + _clock(span[0]), midnight + _clock(span[1])
        while start + length <= end:
            yield start.astimezone(UTC)
            start += length


def upcoming_slots(
    now: datetime, days: int, hours: Sequence[Any], holidays: Sequence[str], slot_minutes: int
) -> list[datetime]:
    """Slot starts (UTC) from ``now`` on, over ``days`` local days, today included."""
    today = now.astimezone(CST).date()
    found: list[datetime] = []
    for offset in range(days):
        for start in day_slots(today + timedelta(days=offset), hours, holidays, slot_minutes):
            if start > now:
                found.append(start)
    return found


def is_bookable(
    slot: datetime,
    now: datetime,
    days: int,
    hours: Sequence[Any],
    holidays: Sequence[str],
    slot_minutes: int,
) -> bool:
    """Whether ``slot`` is one of the point's upcoming slots."""
    if slot <= now:
        return False
    return slot in set(upcoming_slots(now, days, hours, holidays, slot_minutes))
