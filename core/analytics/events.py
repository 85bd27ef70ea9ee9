"""Storefront traffic, counted in process memory and written in batches.

The product list and product page are the hottest reads of the storefront, so recording a
hit costs a dictionary update and nothing else: no query, no Redis round trip. Every
``flush_every_s`` (and when the process stops) ``EventBuffer.flush`` writes what piled up
with additive upserts, one short transaction per tenant: ``analytics_traffic`` counts and
``analytics_visitors`` (one row per visitor and day, the funnel stages OR-ed in). Several
server processes each flush their own buffer; the upserts add up. A process that dies loses
at most its last interval of hits, which a dashboard can live with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from core.analytics.models import CARTED, VIEWED, VISITED, TrafficCount, VisitorDay
from core.db import Database, dialect_insert, utcnow
from core.errors import AppError
from core.members.tokens import verify_access_token

log = logging.getLogger("storeplug.analytics")

CST = timezone(timedelta(hours=8), "CST")
DIRECT = "direct"
# The mini-program sends a stable id of its own for visitors who have not signed in.
VISITOR_HEADER = "x-visitor-id"
# Where a visit came from, when the mini-program knows (a share card, a flash-sale page).
SOURCE_HEADER = "x-visit-source"
_VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

# (tenant, day, product or "", source) -> [list views, product views, cart adds]
CountKey = tuple[str, date, str, str]
# (tenant, day, visitor) -> funnel stage bits
VisitorKey = tuple[str, date, str]


def local_day(moment: datetime | None = None) -> date:
    """The calendar day in China time of ``moment`` (now by default)."""
    return (moment or utcnow()).astimezone(CST).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants where ``day`` (China time) starts and the next day starts."""
    start = datetime(day.year, day.month, day.day, tzinfo=CST).astimezone(UTC)
    return start, start + timedelta(days=1)


def visitor_of(headers: Mapping[str, str], secret_key: str, tenant_id: str) -> str | None:
    """Who is browsing: the signed-in member (``m:<id>``, the token checked without a query),
    else the client's own visitor id (``v:<id>``), else nobody we can count."""
    authorization = headers.get("authorization", "")
    if authorization.startswith("Bearer "):
        try:
            member_id = verify_access_token(secret_key, tenant_id, authorization[7:].strip())
        except AppError:
            member_id = None
        if member_id:
            return f"m:{member_id}"
    client_id = headers.get(VISITOR_HEADER, "")
    if _VISITOR_ID.match(client_id):
        return f"v:{client_id}"
    return None


class EventBuffer:
    """Counts of storefront hits not yet written, and the loop that writes them."""

    def __init__(
        self,
        labels: Mapping[str, str] | None = None,
        flush_every_s: float = 30.0,
        max_keys: int = 100_000,
    ) -> None:
        # source name -> label for the merchant (``analytics_sources``)
        self.labels: dict[str, str] = {DIRECT: DIRECT, **(labels or {})}
        self.sources = frozenset(self.labels)
        self.flush_every_s = flush_every_s
        self.max_keys = max_keys  # past this many pending keys, flush early
        self._counts: dict[CountKey, list[int]] = {}
        self._visitors: dict[VisitorKey, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def source_of(self, headers: Mapping[str, str]) -> str:
        """The visit's source if it names a known one; anything else counts as direct."""
        source = headers.get(SOURCE_HEADER, DIRECT)
        return source if source in self.sources else DIRECT

    # ---- recording (no I/O) ---------------------------------------------------------------

    def _count(self, key: CountKey, index: int, n: int) -> None:
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [0, 0, 0]
        counts[index] += n

    def _stage(self, tenant_id: str, day: date, visitor: str | None, stage: int) -> None:
        if visitor is None:
            return
        key = (tenant_id, day, visitor[:72])
        self._visitors[key] = self._visitors.get(key, 0) | stage
        if len(self._visitors) + len(self._counts) > self.max_keys:
            self._wake.set()

    def list_view(self, tenant_id: str, visitor: str | None, source: str = DIRECT) -> None:
        """A product list (the store's front page, a category, a search) was shown."""
        day = local_day()
        self._count((tenant_id, day, "", source), 0, 1)
        self._stage(tenant_id, day, visitor, VISITED)

    def product_view(
        self, tenant_id: str, product_id: str, visitor: str | None, source: str = DIRECT
    ) -> None:
        day = local_day()
        self._count((tenant_id, day, product_id, source), 1, 1)
        self._stage(tenant_id, day, visitor, VISITED | VIEWED)

    def cart_add(
        self, tenant_id: str, product_id: str, member_id: str, source: str = DIRECT
    ) -> None:
        day = local_day()
        self._count((tenant_id, day, product_id, source), 2, 1)
        self._stage(tenant_id, day, f"m:{member_id}", CARTED)

    @property
    def pending(self) -> int:
        return len(self._counts) + len(self._visitors)

    # ---- writing -------------------------------------------------------------------------

    async def flush(self, db: Database) -> int:
        """Write everything recorded so far; returns the rows upserted. A tenant whose write
        fails keeps its counts for the next flush."""
        async with self._lock:
            counts, self._counts = self._counts, {}
            visitors, self._visitors = self._visitors, {}
            by_tenant: dict[str, tuple[list[CountKey], list[VisitorKey]]] = {}
            for ckey in counts:
                by_tenant.setdefault(ckey[0], ([], []))[0].append(ckey)
            for vkey in visitors:
                by_tenant.setdefault(vkey[0], ([], []))[1].append(vkey)
            written = 0
            for tenant_id, (ckeys, vkeys) in by_tenant.items():
                try:
                    async with db.tenant_session(tenant_id) as session:
                        await _write(session, counts, ckeys, visitors, vkeys)
                except Exception:
                    log.warning(
                        "analytics: traffic of tenant %s kept for later", tenant_id, exc_info=True
                    )
                    for ckey in ckeys:
                        for index, n in enumerate(counts[ckey]):
                            self._count(ckey, index, n)
                    for vkey in vkeys:
                        self._visitors[vkey] = self._visitors.get(vkey, 0) | visitors[vkey]
                else:
                    written += len(ckeys) + len(vkeys)
            return written

    async def _run(self, db: Database) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_every_s)
            self._wake.clear()
            try:
                await self.flush(db)
            except Exception:  # never let the loop die: the next round retries
                log.exception("analytics: flushing traffic failed")

    def start(self, db: Database) -> None:
        """Flush in the background every ``flush_every_s`` (call within the running loop)."""
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(db), name="analytics:flush")

    async def stop(self, db: Database) -> None:
        """Stop the loop and write what is left."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.pending:
            await self.flush(db)


async def _write(
    session: AsyncSession,
    counts: dict[CountKey, list[int]],
    ckeys: list[CountKey],
    visitors: dict[VisitorKey, int],
    vkeys: list[VisitorKey],
) -> None:
    insert = await dialect_insert(session)
    if ckeys:
        statement = insert(TrafficCount)
        excluded = statement.excluded
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "day", "product_id", "source"],
                set_={
                    "list_views": TrafficCount.list_views + excluded.list_views,
                    "views": TrafficCount.views + excluded.views,
                    "cart_adds": TrafficCount.cart_adds + excluded.cart_adds,
                },
            ),
            [
                {
                    "tenant_id": tenant_id,
                    "day": day,
                    "product_id": product_id,
                    "source": source,
                    "list_views": counts[key][0],
                    "views": counts[key][1],
                    "cart_adds": counts[key][2],
                }
                for key in ckeys
                for tenant_id, day, product_id, source in [key]
            ],
        )
    if vkeys:
        statement = insert(VisitorDay)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "day", "visitor"],
                set_={"stages": VisitorDay.stages.op("|")(statement.excluded.stages)},
            ),
            [
                {"tenant_id": t, "day": d, "visitor": v, "stages": visitors[(t, d, v)]}
                for t, d, v in vkeys
            ],
        )
