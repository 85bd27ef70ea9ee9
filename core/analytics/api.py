"""HTTP routes of analytics, under ``/merchant/{tenant}/v1/analytics`` (managers and owners).

Ranges are ``start`` and ``end`` (ISO dates, China time, both included; default the last 30
days to today, at most 366). Every table has a CSV twin under ``/analytics/export/<table>``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from litestar import Controller, Response, get, post
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from core.analytics import buyers, export, periods, service
from core.analytics import schemas as s
from core.analytics.events import local_day, visitor_of
from core.analytics.jobs import RFM_JOB, ROLLUP_JOB
from core.api import AnyRequest, Ctx, Cursor, Limit, runtime_of
from core.auth import require_staff
from core.context import TenantContext, TenantInfo
from core.errors import Invalid
from core.paging import DEFAULT_LIMIT, Page

Start = Annotated[date | None, QueryParameter(description="first day (China time)")]
End = Annotated[date | None, QueryParameter(description="last day, included; today at most")]
WithinDays = Annotated[int, QueryParameter(ge=1, le=buyers.MAX_WITHIN_DAYS)]
Months = Annotated[int, QueryParameter(ge=1, le=36)]
TrendDays = Annotated[int, QueryParameter(ge=1, le=periods.MAX_DAYS)]
TopLimit = Annotated[int, QueryParameter(ge=1, le=1000)]
SegmentPath = Annotated[str, PathParameter(max_length=24, pattern=r"^[a-z_]+$")]
Table = Literal["days", "products", "sources", "segments", "cohorts"]


# ---- counting storefront traffic (called by the catalog and cart routes; no I/O) --------------


def count_list_view(request: AnyRequest, tenant: TenantInfo) -> None:
    events = runtime_of(request).events
    visitor = visitor_of(request.headers, runtime_of(request).settings.secret_key, tenant.id)
    events.list_view(tenant.id, visitor, events.source_of(request.headers))


def count_product_view(request: AnyRequest, tenant: TenantInfo, product_id: str) -> None:
    events = runtime_of(request).events
    visitor = visitor_of(request.headers, runtime_of(request).settings.secret_key, tenant.id)
    events.product_view(tenant.id, product_id, visitor, events.source_of(request.headers))


def count_cart_add(
    request: AnyRequest, ctx: TenantContext, product_id: str, member_id: str
) -> None:
    """Counted once the cart's transaction has committed."""
    events = runtime_of(request).events
    source = events.source_of(request.headers)

    async def count() -> None:
        events.cart_add(ctx.tenant_id, product_id, member_id, source)

    ctx.after_commit(count)


def lens_of(request: AnyRequest) -> service.Lens:
    runtime = runtime_of(request)
    return service.Lens(hooks=runtime.plugins.all_hooks, labels=runtime.events.labels)


class AnalyticsController(Controller):
    path = "/analytics"
    tags = ["analytics"]

    @get("/dashboard")
    async def dashboard(
        self,
        request: AnyRequest,
        ctx: Ctx,
        start: Start = None,
        end: End = None,
        compare: FromQuery[bool] = True,
    ) -> s.Dashboard:
        """The range's totals and funnel, the previous period of the same length beside them
        (``compare=false`` leaves it out), per-day rows, sources, top products and segments."""
        return await service.dashboard(ctx, lens_of(request), start, end, compare)

    @get("/days")
    async def days(
        self, request: AnyRequest, ctx: Ctx, start: Start = None, end: End = None
    ) -> list[s.DayOut]:
        return await service.days_table(ctx, lens_of(request), start, end)

    @get("/products")
    async def products(
        self,
        request: AnyRequest,
        ctx: Ctx,
        start: Start = None,
        end: End = None,
        limit: TopLimit = 100,
    ) -> list[s.ProductOut]:
        """Products by sales in the range (then views)."""
        return await service.products_table(ctx, lens_of(request), start, end, limit)

    @get("/sources")
    async def sources(
        self, request: AnyRequest, ctx: Ctx, start: Start = None, end: End = None
    ) -> list[s.SourceOut]:
        """Traffic and paid orders by source; an order may count under several (a flash-sale
        item paid with points), and ``direct`` holds the ones no source claimed."""
        return await service.sources_table(ctx, lens_of(request), start, end)

    @get("/repurchase")
    async def repurchase(
        self, ctx: Ctx, start: Start = None, end: End = None, within_days: WithinDays = 30
    ) -> s.Repurchase:
        return await buyers.repurchase(ctx, start, end, within_days)

    @get("/cohorts")
    async def cohorts(self, ctx: Ctx, months: Months = buyers.COHORT_MONTHS) -> s.Cohorts:
        return await buyers.cohorts(ctx, months)

    @get("/segments")
    async def segments(self, ctx: Ctx, trend_days: TrendDays = buyers.TREND_DAYS) -> s.Segments:
        return await buyers.segment_sizes(ctx, trend_days)

    @get("/segments/{segment:str}/members")
    async def segment_members(
        self,
        ctx: Ctx,
        segment: SegmentPath,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[s.SegmentMember]:
        return await buyers.segment_members(ctx, buyers.ensure_segment(segment), limit, cursor)

    @get("/export/{table:str}")
    async def export(
        self,
        request: AnyRequest,
        ctx: Ctx,
        table: Annotated[Table, PathParameter()],
        start: Start = None,
        end: End = None,
        months: Months = buyers.COHORT_MONTHS,
    ) -> Response[bytes]:
        """A table as CSV: ``days``, ``products``, ``sources``, ``segments`` or ``cohorts``."""
        rows, name = await export.table(ctx, lens_of(request), table, start, end, months)
        return export.csv_response(rows, name)

    @post("/rollups", status_code=202)
    async def rollup(self, ctx: Ctx, data: JSONBody[s.RollupIn]) -> s.Queued:
        """Roll past days up again (after a correction, or to fill a gap); days are
        replaced, never added to. Today cannot be: it is still moving."""
        require_staff(ctx, "manager")
        yesterday = local_day() - timedelta(days=1)
        if data.end > yesterday or data.start > data.end:
            raise Invalid("only past days, start before end", code="analytics.invalid_range")
        days = (data.end - data.start).days + 1
        if days > periods.MAX_DAYS:
            raise Invalid(
                f"at most {periods.MAX_DAYS} days at a time", code="analytics.range_too_long"
            )
        await ctx.jobs.enqueue(
            ROLLUP_JOB,
            key=f"{ROLLUP_JOB}:{ctx.tenant_id}:{data.start}:{data.end}",
            tenant_id=ctx.tenant_id,
            start=data.start.isoformat(),
            end=data.end.isoformat(),
        )
        return s.Queued(job=ROLLUP_JOB, days=days)

    @post("/rfm", status_code=202)
    async def rfm(self, ctx: Ctx) -> s.Queued:
        """Recompute RFM scores, segments and cohorts now (they are also recomputed nightly)."""
        require_staff(ctx, "manager")
        await ctx.jobs.enqueue(RFM_JOB, key=f"{RFM_JOB}:{ctx.tenant_id}", tenant_id=ctx.tenant_id)
        return s.Queued(job=RFM_JOB)


STORE_ROUTES: list[Any] = []
MERCHANT_ROUTES: list[Any] = [AnalyticsController]
