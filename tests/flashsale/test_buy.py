"""Buying through the flash sale: the pending order at the flash price with the short payment
window, each refusal with its own code, replays, and the doors that stay shut (a plain order
or a cart line with a flash activity, another tenant's ids, the plugin switched off)."""

from __future__ import annotations

import asyncio
import secrets

import httpx

from core.runtime import Runtime
from storeplug.testing import problem
from tests.commerce.orders_support import direct, make_address, order_row, place
from tests.flashsale.support import (
    activity_body,
    buy,
    buyers,
    flash_store,
    sale,
    set_settings,
    truth,
)


async def test_buy_places_a_pending_order_at_the_flash_price(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await flash_store(client, payment_window_minutes=3)
    sku, activity = await sale(client, rt, merchant, units=5, price=9900, flash_price=990)
    [buyer] = await buyers(rt, merchant, 1)

    response = await buy(client, merchant, buyer, activity["id"], sku.id)

    assert response.status_code == 201, response.text
    won = response.json()
    assert won["status"] == "pending_payment" and won["payable"] == 990
    order = await order_row(rt, merchant, won["order_id"])
    assert order.status == "pending_payment"
    assert order.payment_deadline is not None
    window = (order.payment_deadline - order.created_at).total_seconds()
    assert 170 <= window <= 181, window  # the plugin's 3 minutes, not the store's 30
    detail = await client.get(f"{merchant.store}/orders/{won['order_id']}", headers=buyer.auth)
    line = detail.json()["lines"][0]
    assert line["unit_price"] == 990 and line["activity"] == f"flashsale:{activity['id']}"
    assert [a["label"] for a in line["adjustments"]] == ["秒杀价"]
    state = await truth(rt, merchant, activity["id"], sku.id, limit=1)
    assert (state.sold, state.held_orders, state.sku_stock) == (1, 1, 10)  # 15 - 5 allotted


async def test_refusals_have_their_own_codes(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await flash_store(client)
    sku, activity = await sale(client, rt, merchant, units=1, member_limit=1, order_limit=1)
    first, second = await buyers(rt, merchant, 2)
    url_id = activity["id"]

    problem(
        await buy(client, merchant, first, url_id, sku.id, 2), 422, "flashsale.order_limit_exceeded"
    )
    assert (await buy(client, merchant, first, url_id, sku.id)).status_code == 201
    problem(await buy(client, merchant, first, url_id, sku.id), 409, "flashsale.limit_exceeded")
    problem(await buy(client, merchant, second, url_id, sku.id), 409, "flashsale.sold_out")
    other = await sale(client, rt, merchant, units=1)
    problem(await buy(client, merchant, second, url_id, other[0].id), 404, "flashsale.unknown_sku")
    problem(await buy(client, merchant, second, "0" * 26, sku.id), 404, "flashsale.not_found")

    later_sku, later = await sale(client, rt, merchant, units=1, starts_in=3600)
    problem(
        await buy(client, merchant, second, later["id"], later_sku.id), 409, "flashsale.not_started"
    )
    short_sku, short = await sale(client, rt, merchant, units=1, lasts=1.5)
    await asyncio.sleep(1.6)
    problem(await buy(client, merchant, second, short["id"], short_sku.id), 409, "flashsale.ended")
    problem(
        await buy(client, merchant, second, url_id, sku.id, key=None),
        400,
        "idempotency.key_required",
    )


async def test_a_retried_buy_replays_its_order(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await flash_store(client)
    sku, activity = await sale(client, rt, merchant, units=1)
    [buyer] = await buyers(rt, merchant, 1)
    key = secrets.token_hex(8)

    first = await buy(client, merchant, buyer, activity["id"], sku.id, key=key)
    again = await buy(client, merchant, buyer, activity["id"], sku.id, key=key)

    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["order_id"] == first.json()["order_id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    state = await truth(rt, merchant, activity["id"], sku.id, limit=1)
    assert (state.sold, state.held_orders) == (1, 1)


async def test_flash_price_only_through_the_buy_route(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await flash_store(client)
    sku, activity = await sale(client, rt, merchant, units=3)
    [buyer] = await buyers(rt, merchant, 1)
    address = await make_address(rt, merchant, buyer.id)
    flash = f"flashsale:{activity['id']}"

    body = direct(sku, 1, address)
    body["items"][0]["activity"] = flash
    problem(await place(client, merchant, buyer, body), 422, "flashsale.buy_required")
    added = await client.post(
        f"{merchant.store}/cart/lines",
        json={"sku_id": sku.id, "quantity": 1, "activity": flash},
        headers=buyer.auth,
    )
    problem(added, 422, "flashsale.buy_required")
    state = await truth(rt, merchant, activity["id"], sku.id, limit=1)
    assert (state.sold, state.pending_orders) == (0, 0)


async def test_other_tenants_ids_and_disabled_plugin_are_404(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    shop_a = await flash_store(client)
    shop_b = await flash_store(client)
    sku_b, activity_b = await sale(client, rt, shop_b, units=2)
    [buyer_a] = await buyers(rt, shop_a, 1)

    problem(
        await buy(client, shop_a, buyer_a, activity_b["id"], sku_b.id), 404, "flashsale.not_found"
    )
    for path in (
        f"/flashsale/activities/{activity_b['id']}",
        f"/flashsale/activities/{activity_b['id']}/stats",
    ):
        problem(
            await client.get(shop_a.merchant + path, headers=shop_a.auth),
            404,
            "flashsale.not_found",
        )
    problem(
        await client.get(f"{shop_a.store}/flashsale/{activity_b['id']}"), 404, "flashsale.not_found"
    )
    for verb in ("publish", "cancel"):
        url = f"{shop_a.merchant}/flashsale/activities/{activity_b['id']}/{verb}"
        problem(await client.post(url, headers=shop_a.auth), 404, "flashsale.not_found")
    # Another tenant's SKU cannot go into an activity.
    stolen = await client.post(
        f"{shop_a.merchant}/flashsale/activities",
        json=activity_body([(sku_b, 100, 1)]),
        headers=shop_a.auth,
    )
    problem(stolen, 422, "flashsale.unknown_sku")

    off = await client.post(f"{shop_b.merchant}/plugins/flashsale/disable", headers=shop_b.auth)
    assert off.status_code == 200, off.text
    problem(await client.get(f"{shop_b.store}/flashsale/"), 404, "plugin.disabled")


async def test_rate_limits_answer_429_with_retry_after(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await flash_store(client)
    await set_settings(client, merchant, buys_per_member=2, rate_window_seconds=60)
    sku, activity = await sale(client, rt, merchant, units=1)
    [buyer] = await buyers(rt, merchant, 1)

    answers = [await buy(client, merchant, buyer, activity["id"], sku.id) for _ in range(3)]

    assert answers[0].status_code == 201, answers[0].text
    problem(answers[1], 409, "flashsale.limit_exceeded")
    problem(answers[2], 429, "flashsale.rate_limited")
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60
    await set_settings(client, merchant, buys_per_ip=1, rate_window_seconds=60)
    [other] = await buyers(rt, merchant, 1)
    await buy(client, merchant, other, activity["id"], sku.id)
    problem(
        await buy(client, merchant, other, activity["id"], sku.id), 429, "flashsale.rate_limited"
    )
