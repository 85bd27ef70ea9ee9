"""The stock pages over real HTTP: the low-stock list, a SKU's ledger, and a manual
adjustment that needs a reason, may not take the stock below zero, is a manager's, and
checks its CSRF token."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from storeplug.testing import LiveServer
from storeplug.testing.console import signed_in, staff_login
from tests.commerce.orders_support import Shop, make_sku, new_shop


async def stock_of(client: httpx.AsyncClient, shop: Shop, sku_id: str) -> int:
    merchant = shop.merchant
    answer = await client.get(f"{merchant.merchant}/inventory/skus/{sku_id}", headers=merchant.auth)
    assert answer.status_code == 200, answer.text
    stock: int = answer.json()["stock"]
    return stock


async def test_a_manager_adjusts_stock_with_a_reason_and_the_ledger_shows_it(
    client: httpx.AsyncClient, rt: Runtime, server: LiveServer
) -> None:
    shop = await new_shop(client, rt)
    low = (await make_sku(rt, shop.merchant, stock=2, safety_stock=2, title="乌龙")).id
    plenty = (await make_sku(rt, shop.merchant, stock=50, title="红茶")).id
    username, password = await staff_login(client, shop.merchant, "manager")
    async with signed_in(server.url, shop.merchant, username, password) as manager:
        listed = await manager.get("stock")
        assert listed.status_code == 200, listed.text
        assert f'data-testid="sku-{low}"' in listed.text
        assert f'data-testid="sku-{plenty}"' not in listed.text
        wider = await manager.get("stock?threshold=50")
        assert f'data-testid="sku-{plenty}"' in wider.text
        bad_filter = await manager.get("stock?threshold=-1")
        assert bad_filter.status_code == 422 and 'data-testid="error-threshold"' in bad_filter.text

        page = await manager.get(f"stock/{low}")
        assert 'data-testid="adjust-form"' in page.text and "暂无变动" in page.text

        no_reason = await manager.post(f"stock/{low}/adjust", {"delta": "5", "note": ""})
        assert no_reason.status_code == 422 and 'data-testid="error-note"' in no_reason.text
        not_a_number = await manager.post(f"stock/{low}/adjust", {"delta": "x", "note": "盘点"})
        assert not_a_number.status_code == 422
        assert 'data-testid="error-delta"' in not_a_number.text
        below_zero = await manager.post(f"stock/{low}/adjust", {"delta": "-3", "note": "破损"})
        assert below_zero.status_code == 409 and "库存不能低于零" in below_zero.text
        zero = await manager.post(f"stock/{low}/adjust", {"delta": "0", "note": "盘点"})
        assert zero.status_code == 400 and "变动数量不能为零" in zero.text
        assert await stock_of(client, shop, low) == 2

        done = await manager.post(f"stock/{low}/adjust", {"delta": "10", "note": "到货"})
        assert done.status_code == 303, done.text
        assert done.headers["location"].endswith(f"/stock/{low}?done=adjusted")
        after = await manager.get(f"stock/{low}?done=adjusted")
        assert 'data-testid="notice"' in after.text
        assert 'data-testid="stock">12<' in after.text
        ledger = after.text.split('data-testid="ledger"')[1]
        assert "+10" in ledger and "到货" in ledger and "手工调整" in ledger
        assert f'data-testid="sku-{low}"' not in (await manager.get("stock")).text

        refused = await manager.post(f"stock/{low}/adjust", {"delta": "1", "note": "x"}, csrf=False)
        assert refused.status_code == 403 and 'data-code="csrf.invalid"' in refused.text
    assert await stock_of(client, shop, low) == 12


async def test_a_clerk_reads_stock_but_cannot_adjust_it_and_other_stores_skus_are_not_found(
    client: httpx.AsyncClient, rt: Runtime, server: LiveServer
) -> None:
    shop, other = await new_shop(client, rt), await new_shop(client, rt)
    sku = (await make_sku(rt, shop.merchant, stock=0)).id
    username, password = await staff_login(client, shop.merchant, "clerk")
    async with signed_in(server.url, shop.merchant, username, password, "en") as clerk:
        listed = await clerk.get("stock")
        assert f'data-testid="sku-{sku}"' in listed.text and "Low stock" in listed.text
        page = await clerk.get(f"stock/{sku}")
        assert page.status_code == 200 and 'data-testid="adjust-form"' not in page.text
        refused = await clerk.post(f"stock/{sku}/adjust", {"delta": "5", "note": "盘点"})
        assert refused.status_code == 403
        assert 'data-code="auth.role_required"' in refused.text
    assert await stock_of(client, shop, sku) == 0

    async with signed_in(server.url, other.merchant) as stranger:
        assert (await stranger.get(f"stock/{sku}")).status_code == 404
        gone = await stranger.post(f"stock/{sku}/adjust", {"delta": "5", "note": "盘点"})
        assert gone.status_code == 404
    assert await stock_of(client, shop, sku) == 0
