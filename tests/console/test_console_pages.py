"""The first console pages over real HTTP: the dashboard's figures and the features page
(toggles, generated settings forms with inline errors, plugins locked by the plan)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from core.analytics.sales import china_today, day_start, sales_summary
from core.context import Principal
from core.db import utcnow
from core.orders.models import Order
from core.runtime import Runtime
from storeplug.testing import LiveServer, make_member, onboard
from storeplug.testing.console import signed_in, staff_login
from tests.commerce.orders_support import Shop, make_sku, new_shop
from tests.commerce.refunds_support import paid_order, refund_directly, settled
from tests.test_plugins import hello


async def test_the_dashboard_counts_today_7_and_30_days_and_draws_the_days(
    client: httpx.AsyncClient, rt: Runtime, server: LiveServer, worker: None
) -> None:
    shop = await new_shop(client, rt)
    sku = await make_sku(rt, shop.merchant, price=1000, stock=20)
    first = await paid_order(client, rt, shop, [(sku, 1)])
    await paid_order(client, rt, shop, [(sku, 2)])
    other = await make_member(rt, shop.merchant, "other")
    old = await paid_order(client, rt, Shop(merchant=shop.merchant, buyer=other), [(sku, 3)])
    ten_days_ago = utcnow() - timedelta(days=10)
    async with rt.db.tenant_session(shop.merchant.id) as session:
        await session.execute(
            update(Order).where(Order.id == old["id"]).values(paid_at=ten_days_ago)
        )
    refund = await refund_directly(
        client, shop.merchant, first["id"], {"reason": "破损", "amount": 300}
    )
    assert refund.status_code == 201, refund.text
    await settled(client, rt, shop.merchant, refund.json()["id"], "succeeded")

    async with signed_in(server.url, shop.merchant) as console:
        page = await console.get("")
        assert page.status_code == 200, page.text
        text = page.text
        assert 'data-testid="gmv-1">¥30.00<' in text
        assert 'data-testid="orders-1">2<' in text
        assert 'data-testid="gmv-30">¥60.00<' in text
        assert 'data-testid="orders-30">3<' in text
        assert "¥3.00" in text  # the refund
        assert text.count('<rect class="bar"') == 30
        assert (
            "<title>" + (ten_days_ago + timedelta(hours=8)).date().isoformat() + " ¥30.00" in text
        )


async def test_sales_summary_windows_are_china_days(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await new_shop(client, rt)
    sku = await make_sku(rt, shop.merchant, price=500, stock=20)
    order = await paid_order(client, rt, shop, [(sku, 1)])
    now = utcnow()
    tenant = await rt.tenants.resolve(shop.merchant.slug)
    # 23:59 China time yesterday is today's "yesterday", however late in UTC it is.
    yesterday_late = day_start(china_today(now)) - timedelta(minutes=1)
    async with rt.db.tenant_session(shop.merchant.id) as session:
        await session.execute(
            update(Order).where(Order.id == order["id"]).values(paid_at=yesterday_late)
        )
    async with rt.tenant_context(
        tenant, Principal(kind="staff", id="x", role="clerk", tenant_id=tenant.id)
    ) as ctx:
        summary = await sales_summary(ctx, now)
    today, week, month = summary.periods
    assert (today.gmv, today.paid_orders) == (0, 0)
    assert (month.gmv, month.paid_orders) == (500, 1)
    assert (week.gmv, week.paid_orders, week.paying_members) == (500, 1, 1)
    assert week.average_order_value == 500
    assert [p.gmv for p in summary.daily][-2:] == [500, 0]
    assert len(summary.daily) == 30 and summary.daily[-1].day == summary.today


async def test_features_toggle_settings_errors_and_locked_plugins(
    client: httpx.AsyncClient, server: LiveServer
) -> None:
    merchant = await onboard(client, plugins=("echo", "points"))
    async with signed_in(server.url, merchant) as console:
        page = await console.get("features")
        assert page.status_code == 200
        assert 'data-testid="plugin-flashsale"' in page.text
        flash = page.text.split('data-testid="plugin-flashsale"')[1].split("</section>")[0]
        assert "未开通" in flash and "test-pro" in flash and "toggle" not in flash
        echo = page.text.split('data-testid="plugin-echo"')[1].split("</section>")[0]
        # The settings form is generated from EchoSettings: types, bounds and defaults.
        assert 'name="max_items" type="number"' in echo and 'min="1"' in echo and 'max="10"' in echo
        assert 'value="hello"' in echo and 'maxlength="40"' in echo

        problem_before = await hello(client, merchant)
        assert problem_before.status_code == 404
        on = await console.http.post(
            f"{console.base}/features/echo/enable",
            headers={"X-CSRF-Token": console.csrf, "HX-Request": "true"},
        )
        assert on.status_code == 200
        assert on.text.lstrip().startswith('<section class="card" id="plugin-echo"')
        assert "已开启" in on.text
        assert (await hello(client, merchant)).json()["greeting"] == "hello"

        bad = await console.post("features/echo/settings", {"greeting": "", "max_items": "11"})
        assert bad.status_code == 422
        assert 'data-testid="error-max_items">不能大于 10。' in bad.text
        assert 'data-testid="error-greeting">至少输入 1 个字符。' in bad.text
        assert 'value="11"' in bad.text  # what was typed stays in the field
        assert (await hello(client, merchant)).json()["greeting"] == "hello"
        word = await console.post("features/echo/settings", {"greeting": "hi", "max_items": "x"})
        assert 'data-testid="error-max_items">请输入整数' in word.text

        good = await console.post("features/echo/settings", {"greeting": "你好", "max_items": "4"})
        assert good.status_code == 303
        assert (await hello(client, merchant)).json()["greeting"] == "你好"

        off = await console.post("features/echo/disable")
        assert off.status_code == 303
        assert (await hello(client, merchant)).status_code == 404

    username, password = await staff_login(client, merchant, "manager")
    async with signed_in(server.url, merchant, username, password) as manager:
        page = await manager.get("features")
        assert page.status_code == 200
        assert 'data-testid="toggle"' not in page.text  # only the owner switches
        refused = await manager.post("features/echo/enable")
        assert refused.status_code == 403
        assert "你的角色无权进行此操作" in refused.text
        assert (await hello(client, merchant)).status_code == 404
