"""In-process admission gates for hot rows: at most a few requests for one thing (a flash
sale, a group-buy team) write to the database at a time per process; the others wait here,
in memory, not on a pooled connection or a row lock. When they get in, one read usually
tells them the answer ("sold out", "the team is full") without pricing an order, reserving
stock and rolling it all back behind the winners' row locks.

A gate lives as long as someone holds a reference to it (a ``WeakValueDictionary``), so idle
activities cost nothing.
"""

from __future__ import annotations

import asyncio
import weakref

_gates: weakref.WeakValueDictionary[tuple[str, ...], asyncio.Semaphore] = (
    weakref.WeakValueDictionary()
)


def gate(key: tuple[str, ...], size: int) -> asyncio.Semaphore:
    """The gate of ``key`` (e.g. ``("flashsale", tenant_id, activity_id)``), letting ``size``
    in at a time."""
    found = _gates.get(key)
    if found is None:
        found = _gates[key] = asyncio.Semaphore(size)
    return found
