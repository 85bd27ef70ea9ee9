"""Refunds under concurrency, with real concurrent HTTP requests: refunds that together exceed
the paid amount, the last unit of a line asked for twice, a double approval, two requests of
one member, and Idempotency-Key replays. Must hold on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx

from core.runtime import Runtime
from storeplug.testing import enable, problem
from tests.commerce.orders_support import Shop, make_sku, new_shop
from tests.commerce.refunds_support import (
    ask_refund,
    hook_events,
    line_of,
    order_and_lines,
    paid_order,
    refund_directly,
    refunds_of,
    settled,
)

REASON = {"reason": "质量问题"}


async def test_two_refunds_over_the_paid_amount_one_wins(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    """The acceptance case: two direct refunds of 60% each at the same moment."""
    for _ in range(3):  # a few rounds, so the race is really run
        shop = await new_shop(client, rt)
        merchant = shop.merchant
        sku = await make_sku(rt, merchant, price=10000, stock=5)
        order = await paid_order(client, rt, shop, [(sku, 1)])
        sixty = order["paid_amount"] * 60 // 100
        answers = await asyncio.gather(
            *(
                refund_directly(client, merchant, order["id"], {**REASON, "amount": sixty})
                for _ in range(2)
            )
        )
        assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
        won = next(a for a in answers if a.status_code == 201)
        problem(next(a for a in answers if a.status_code == 409), 409, "refund.exceeds_paid")
        row, _ = await order_and_lines(rt, merchant, order["id"])
        assert row.refund_held == sixty <= row.paid_amount
        await settled(client, rt, merchant, won.json()["id"], "succeeded")
        row, _ = await order_and_lines(rt, merchant, order["id"])
        assert row.refunded_amount == sixty and row.status == "paid"
        assert [r.status for r in await refunds_of(rt, merchant, order["id"])] == ["succeeded"]


async def test_many_refunds_of_money_only_never_exceed_what_was_paid(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, worker: None
) -> None:
    merchant = shop.merchant
    sku = await make_sku(rt, merchant, price=1000, stock=5)
    order = await paid_order(client, rt, shop, [(sku, 1)])
    answers = await asyncio.gather(
        *(
            refund_directly(client, merchant, order["id"], {**REASON, "amount": 300})
            for _ in range(6)
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 201, 201, 409, 409, 409], [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            problem(answer, 409, "refund.exceeds_paid")
        else:
            await settled(client, rt, merchant, answer.json()["id"], "succeeded")
    row, _ = await order_and_lines(rt, merchant, order["id"])
    assert row.refunded_amount == 900 == row.refund_held and row.paid_amount == 1000


async def test_the_last_unit_is_refunded_once(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant = shop.merchant
    sku = await make_sku(rt, merchant, price=1000, stock=5)
    other = await make_sku(rt, merchant, price=500, stock=5)  # keeps the order from refunded
    order = await paid_order(client, rt, shop, [(sku, 2), (other, 1)])
    line = line_of(order, sku)
    one = {**REASON, "lines": [{"line_id": line, "quantity": 1}]}
    first = await refund_directly(client, merchant, order["id"], one)
    assert first.status_code == 201, first.text
    answers = await asyncio.gather(
        *(refund_directly(client, merchant, order["id"], one) for _ in range(2))
    )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    problem(next(a for a in answers if a.status_code == 409), 409, "refund.exceeds_quantity")
    _, lines = await order_and_lines(rt, merchant, order["id"])
    assert lines[line].refund_held_quantity == 2


async def test_a_request_approved_twice_at_once_is_refunded_once(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, worker: None
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    assert (await enable(client, merchant, "echo")).status_code == 200
    sku = await make_sku(rt, merchant, price=2500, stock=5)
    order = await paid_order(client, rt, shop, [(sku, 1)])
    asked = await ask_refund(client, merchant, buyer, order["id"], REASON)
    assert asked.status_code == 201, asked.text
    refund_id = asked.json()["id"]
    url = f"{merchant.merchant}/refunds/{refund_id}/approve"
    answers = await asyncio.gather(*(client.post(url, headers=merchant.auth) for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [200, 409, 409], [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            problem(answer, 409, "refund.state_changed")
    await settled(client, rt, merchant, refund_id, "succeeded")
    row, _ = await order_and_lines(rt, merchant, order["id"])
    assert row.status == "refunded" and row.refunded_amount == row.paid_amount == 2400
    assert hook_events("refund_succeeded", merchant.id) == [(refund_id, order["id"])]
    assert hook_events("order_refunded", merchant.id) == [order["id"]]


async def test_one_open_request_per_order_even_at_once(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, price=800, stock=5)
    order = await paid_order(client, rt, shop, [(sku, 2)])
    line = order["lines"][0]["id"]
    bodies: list[dict[str, Any]] = [REASON, {**REASON, "lines": [{"line_id": line, "quantity": 1}]}]
    answers = await asyncio.gather(
        *(ask_refund(client, merchant, buyer, order["id"], body) for body in bodies)
    )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 409)
    assert loser.json()["code"] in ("refund.already_requested", "refund.exceeds_quantity")
    assert len(await refunds_of(rt, merchant, order["id"])) == 1


async def test_an_idempotency_key_replays_the_refund(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, price=800, stock=5)
    order = await paid_order(client, rt, shop, [(sku, 1)])
    other = await paid_order(client, rt, shop, [(sku, 1)])
    key = secrets.token_hex(8)
    first = await refund_directly(client, merchant, order["id"], {**REASON, "amount": 100}, key)
    replay = await refund_directly(client, merchant, order["id"], {**REASON, "amount": 100}, key)
    assert first.status_code == replay.status_code == 201, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    changed = await refund_directly(client, merchant, order["id"], {**REASON, "amount": 200}, key)
    problem(changed, 422, "idempotency.key_reused")
    elsewhere = await refund_directly(client, merchant, other["id"], {**REASON, "amount": 100}, key)
    problem(elsewhere, 422, "idempotency.key_reused")
    assert len(await refunds_of(rt, merchant, order["id"])) == 1

    member_key = secrets.token_hex(8)
    asked = await ask_refund(client, merchant, buyer, other["id"], REASON, member_key)
    again = await ask_refund(client, merchant, buyer, other["id"], REASON, member_key)
    assert asked.status_code == again.status_code == 201, again.text
    assert again.json()["id"] == asked.json()["id"]
    no_key = await client.post(
        f"{merchant.store}/orders/{other['id']}/refunds", json=REASON, headers=buyer.auth
    )
    problem(no_key, 400, "idempotency.key_required")
