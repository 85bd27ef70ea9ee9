"""The merchant console's dashboard (every staff role) and its analytics page (managers and
owners): a date range against the period before it, GMV and orders by day, the funnel,
sources, top products, repurchase, RFM segments and cohorts, each table also as CSV. Thin:
every figure comes from ``core.analytics.service``, the functions the JSON API calls."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Response, get
from litestar.params import PathParameter, QueryParameter

from core.analytics import buyers, export, service
from core.analytics.api import lens_of
from core.analytics.sales import sales_summary
from core.api import AnyRequest, Ctx
from core.console.charts import bar_chart
from core.console.i18n import N_
from core.console.render import money
from core.console.web import page
from core.errors import AppError

# The segments and funnel steps in the console's words (English msgids, translated).
SEGMENT_NAMES = {
    "important_value": N_("Important value"),
    "important_develop": N_("Important to develop"),
    "important_keep": N_("Important to keep"),
    "important_retain": N_("Important to win back"),
    "general_value": N_("General value"),
    "general_develop": N_("General to develop"),
    "general_keep": N_("General to keep"),
    "general_retain": N_("General to win back"),
}
FUNNEL_STEPS = (
    ("visitors", N_("Visitors")),
    ("product_viewers", N_("Viewed a product")),
    ("cart_members", N_("Added to cart")),
    ("ordering_members", N_("Ordered")),
    ("paying_members", N_("Paid")),
)
COHORT_MONTHS = 6
QueryDate = Annotated[str | None, QueryParameter(max_length=10)]
WithinDays = Annotated[int, QueryParameter(ge=1, le=buyers.MAX_WITHIN_DAYS)]


@get("/", name="console.dashboard", include_in_schema=False)
async def dashboard(request: AnyRequest, ctx: Ctx) -> Response[str]:
    summary = await sales_summary(ctx)
    chart = bar_chart(
        [
            (point.day.strftime("%m-%d"), point.gmv, f"{point.day.isoformat()} {money(point.gmv)}")
            for point in summary.daily
        ]
    )
    return page(request, "analytics/dashboard.html", summary=summary, chart=chart)


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise AppError(
            "dates are written YYYY-MM-DD", code="analytics.invalid_range", status=422
        ) from None


def _day_chart(days: list[Any], value: str, fmt: Any) -> Any:
    return bar_chart(
        [
            (
                d.day.strftime("%m-%d"),
                getattr(d, value),
                f"{d.day.isoformat()} {fmt(getattr(d, value))}",
            )
            for d in days
        ],
        label_every=max(len(days) // 6, 1),
    )


@get("/analytics", name="console.analytics", include_in_schema=False)
async def analytics_page(
    request: AnyRequest,
    ctx: Ctx,
    start: QueryDate = None,
    end: QueryDate = None,
    compare: QueryDate = None,
    shown: QueryDate = None,
    within_days: WithinDays = 30,
) -> Response[str]:
    """The range form posts back here by GET (``shown`` marks a submitted form, so an
    unticked ``compare`` means no comparison)."""
    lens = lens_of(request)
    wants_compare = compare == "1" or shown is None
    error = None
    try:
        board = await service.dashboard(ctx, lens, _date(start), _date(end), wants_compare)
    except AppError as exc:
        if exc.status != 422:
            raise
        error = exc.detail
        board = await service.dashboard(ctx, lens, None, None, wants_compare)
    first, last = board.totals.start, board.totals.end
    repurchase = await buyers.repurchase(ctx, first, last, within_days)
    cohorts = await buyers.cohorts(ctx, COHORT_MONTHS)
    funnel = board.totals.funnel
    return page(
        request,
        "analytics/analytics.html",
        board=board,
        error=error,
        query=f"start={first.isoformat()}&end={last.isoformat()}",
        compare=wants_compare,
        within_days=within_days,
        repurchase=repurchase,
        cohorts=cohorts,
        cohort_months=COHORT_MONTHS,
        segment_names=SEGMENT_NAMES,
        funnel_steps=[(name, label, getattr(funnel, name)) for name, label in FUNNEL_STEPS],
        gmv_chart=_day_chart(board.days, "gmv", money),
        orders_chart=_day_chart(board.days, "paid_orders", str),
        funnel_chart=bar_chart(
            [("", getattr(funnel, name), str(getattr(funnel, name))) for name, _ in FUNNEL_STEPS]
        ),
        segment_chart=bar_chart(
            [("", row.members, f"{row.label} {row.members}") for row in board.segments]
        ),
    )


@get("/analytics/export/{table:str}", name="console.analytics_export", include_in_schema=False)
async def analytics_export(
    request: AnyRequest,
    ctx: Ctx,
    table: Annotated[str, PathParameter(max_length=20)],
    start: QueryDate = None,
    end: QueryDate = None,
) -> Response[bytes]:
    rows, name = await export.table(ctx, lens_of(request), table, _date(start), _date(end))
    return export.csv_response(rows, name)


CONSOLE_ROUTES = [dashboard, analytics_page, analytics_export]
