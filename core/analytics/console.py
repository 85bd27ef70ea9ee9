"""The dashboard page of the merchant console."""

from __future__ import annotations

from litestar import Response, get

from core.analytics.sales import sales_summary
from core.api import AnyRequest, Ctx
from core.console.charts import bar_chart
from core.console.render import money
from core.console.web import page


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


CONSOLE_ROUTES = [dashboard]
