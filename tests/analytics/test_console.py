"""The console's analytics page over real HTTP, on the hand-computed data set: the range,
the comparison, the charts, the funnel, sources, segments and repurchase, and the CSV
exports; the dashboard read from the rollups."""

from __future__ import annotations

import httpx

from core.analytics import rfm
from core.runtime import Runtime
from storeplug.testing import LiveServer
from storeplug.testing.console import signed_in, staff_login
from tests.analytics.support import Fixture
from tests.analytics.test_figures import roll_all

OCTOBER = {"start": "2025-10-01", "end": "2025-10-30", "shown": "1", "compare": "1"}


async def test_the_analytics_page(
    client: httpx.AsyncClient, rt: Runtime, server: LiveServer, fixture_shop: Fixture
) -> None:
    fx = fixture_shop
    await roll_all(rt, fx)
    tenant = await rt.tenants.resolve(fx.merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        await rfm.recompute(ctx)
    async with signed_in(server.url, fx.merchant) as console:
        dashboard = await console.get("")
        assert 'href="/console/' + fx.merchant.slug + '/analytics"' in dashboard.text  # the menu

        page = await console.get("analytics", params=OCTOBER)
        assert page.status_code == 200, page.text
        text = page.text
        assert 'data-testid="total-gmv">¥455.00<' in text  # 2000+30000+1000+4000+6000+2500
        assert 'data-testid="total-orders">6<' in text
        assert 'data-testid="total-new">2<' in text  # F and G
        assert "-31.1%" in text  # 45500 against September's 66000
        assert "对比 2025-09-01 – 2025-09-30" in text
        assert text.count('<rect class="bar"') == 30 + 30 + 5 + 8  # GMV, orders, funnel, segments
        assert 'data-testid="funnel-visitors">3<' in text  # day 60's
        assert 'data-testid="funnel-paying_members">6<' in text
        sources = text.split('data-testid="sources"')[1].split("</table>")[0]
        assert "秒杀" in sources and "积分抵扣" in sources and "¥300.00" in sources
        assert 'data-testid="repurchase-rate">20.0%<' in text  # F of F A G C E
        segments = text.split('data-testid="segments"')[1]
        assert "一般发展客户" in segments and "33.3%" in segments
        assert 'data-testid="csv-days"' in text and "start=2025-10-01&amp;end=2025-10-30" in text

        csv = await console.get(
            "analytics/export/days", params={"start": "2025-10-01", "end": "2025-10-30"}
        )
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        assert len(csv.content.decode("utf-8-sig").splitlines()) == 31
        segments_csv = await console.get("analytics/export/segments")
        assert "general_develop" in segments_csv.text
        assert (await console.get("analytics/export/orders")).status_code == 404

        # No comparison, and a range that cannot be: the form says why.
        plain = await console.get("analytics", params={**OCTOBER, "compare": ""})
        assert "对比 2025-09-01" not in plain.text
        wrong = await console.get(
            "analytics", params={"start": "2025-10-30", "end": "2025-10-01", "shown": "1"}
        )
        assert wrong.status_code == 200 and 'data-testid="range-error"' in wrong.text


async def test_the_analytics_page_is_for_managers(
    client: httpx.AsyncClient, server: LiveServer, fixture_shop: Fixture
) -> None:
    username, password = await staff_login(client, fixture_shop.merchant, "clerk")
    async with signed_in(server.url, fixture_shop.merchant, username, password) as console:
        dashboard = await console.get("")
        assert dashboard.status_code == 200
        assert "/analytics" not in dashboard.text  # not in a clerk's menu
        assert (await console.get("analytics")).status_code == 403
        assert (await console.get("analytics/export/days")).status_code == 403
