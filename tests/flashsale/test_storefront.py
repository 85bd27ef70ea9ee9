"""What buyers see: upcoming and running sales with the server's time, an activity's flash
prices and the units left (or not, as the merchant chooses), and the flash price and badge on
product lists through the catalog hooks."""

from __future__ import annotations

from datetime import datetime

import httpx

from core.db import utcnow
from core.runtime import Runtime
from storeplug.testing import problem
from tests.commerce.orders_support import make_sku
from tests.flashsale.support import (
    activity_body,
    buy,
    buyers,
    create_activity,
    flash_store,
    set_settings,
)


async def test_sales_list_and_detail_for_countdowns(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await flash_store(client)
    running_sku = await make_sku(rt, merchant, price=9900, stock=20, title="电饭煲")
    soon_sku = await make_sku(rt, merchant, price=5000, stock=20, title="台灯")
    running = await create_activity(
        client, merchant, activity_body([(running_sku, 990, 5)], member_limit=2, order_limit=2)
    )
    soon = await create_activity(
        client, merchant, activity_body([(soon_sku, 100, 3)], starts_in=600)
    )
    await create_activity(client, merchant, activity_body([(soon_sku, 1, 1)]), publish=False)
    [member] = await buyers(rt, merchant, 1)
    assert (
        await buy(client, merchant, member, running["id"], running_sku.id, 2)
    ).status_code == 201

    before = utcnow()
    listed = (await client.get(f"{merchant.store}/flashsale/")).json()
    server_time = datetime.fromisoformat(listed["server_time"])
    assert abs((server_time - before).total_seconds()) < 5
    cards = {card["id"]: card for card in listed["items"]}
    assert set(cards) == {running["id"], soon["id"]}  # the draft is not shown
    assert cards[running["id"]]["phase"] == "running"
    assert cards[soon["id"]]["phase"] == "upcoming"
    assert cards[soon["id"]]["min_flash_price"] == 100

    detail = (await client.get(f"{merchant.store}/flashsale/{running['id']}")).json()
    [item] = detail["items"]
    assert (item["price"], item["flash_price"], item["remaining"]) == (9900, 990, 3)
    assert item["title"] == "电饭煲" and not item["sold_out"]
    assert detail["member_limit"] == 2 and "server_time" in detail

    await set_settings(client, merchant, show_remaining_stock=False)
    hidden = (await client.get(f"{merchant.store}/flashsale/{running['id']}")).json()
    assert hidden["items"][0]["remaining"] is None
    page = await client.get(f"{merchant.store}/flashsale/?limit=1")
    assert len(page.json()["items"]) == 1 and page.json()["next_cursor"]
    problem(await client.get(f"{merchant.store}/flashsale/nonsense"), 404, "flashsale.not_found")


async def test_product_lists_show_the_flash_price_and_badge(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await flash_store(client)
    on_sale = await make_sku(rt, merchant, price=9900, stock=20, title="电饭煲")
    upcoming = await make_sku(rt, merchant, price=5000, stock=20, title="台灯")
    plain = await make_sku(rt, merchant, price=3000, stock=20, title="毛巾")
    running = await create_activity(client, merchant, activity_body([(on_sale, 990, 5)]))
    soon = await create_activity(
        client, merchant, activity_body([(upcoming, 100, 3)], starts_in=600)
    )

    products = (await client.get(f"{merchant.store}/products")).json()["items"]
    found = {p["id"]: p["decorations"] for p in products}
    flash = [d for d in found[on_sale.product_id] if d["source"] == "flashsale"]
    assert flash == [
        {
            "source": "flashsale",
            "badge": "秒杀",
            "activity_price": 990,
            "activity": f"flashsale:{running['id']}",
        }
    ]
    later = [d for d in found[upcoming.product_id] if d["source"] == "flashsale"]
    assert [(d["badge"], d["activity"]) for d in later] == [("秒杀预告", f"flashsale:{soon['id']}")]
    assert not [d for d in found[plain.product_id] if d["source"] == "flashsale"]
