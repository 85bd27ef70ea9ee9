"""Orders: the state machine (every pair of states), cancel/ship/confirm over HTTP, merchant
filters, and refusals of foreign input. Runs on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from core.catalog.models import Product
from core.db import utcnow
from core.errors import AppError
from core.orders.models import ORDER_STATES, Order, OrderEvent
from core.orders.state import TRANSITIONS, mark_paid, transition
from core.runtime import Runtime
from storeplug.testing import make_member
from storeplug.testing import problem as assert_problem
from tests.commerce.orders_support import (
    HookRecorder,
    Shop,
    insert_order,
    make_sku,
    movements,
    new_shop,
    order_row,
    stock_of,
)

# ---- the state machine -------------------------------------------------------------------


async def test_every_transition_outside_the_table_is_refused(
    rt: Runtime, shop: Shop, hooks: HookRecorder
) -> None:
    merchant = shop.merchant
    sku = await make_sku(rt, merchant, stock=1000)
    tenant = await rt.tenants.resolve(merchant.slug)
    for source, target in itertools.product(ORDER_STATES, ORDER_STATES):
        order_id = await insert_order(rt, merchant, shop.buyer.id, sku, status=source)
        before = await stock_of(rt, merchant, sku.id)
        if (source, target) in TRANSITIONS:
            async with rt.tenant_context(tenant) as ctx:
                order = await ctx.session.get(Order, (tenant.id, order_id))
                assert order is not None
                await transition(ctx, order, target, actor="job:test", reason="table")
            row = await order_row(rt, merchant, order_id)
            assert row.status == target, (source, target)
            hook = TRANSITIONS[(source, target)].hook
            assert hooks.of(tenant.id, order_id) == ([hook] if hook else [])
            released = 1 if target == "cancelled" else 0
            assert await stock_of(rt, merchant, sku.id) == before + released
        else:
            with pytest.raises(AppError) as refused:
                async with rt.tenant_context(tenant) as ctx:
                    order = await ctx.session.get(Order, (tenant.id, order_id))
                    assert order is not None
                    await transition(ctx, order, target, actor="job:test")
            assert refused.value.status == 409
            assert refused.value.code == "order.invalid_transition"
            assert f"from {source} to {target}" in refused.value.detail
            assert (await order_row(rt, merchant, order_id)).status == source
            assert hooks.of(tenant.id, order_id) == []
            assert await stock_of(rt, merchant, sku.id) == before


async def test_transition_writes_an_event_and_its_timestamp(rt: Runtime, shop: Shop) -> None:
    merchant = shop.merchant
    sku = await make_sku(rt, merchant)
    order_id = await insert_order(rt, merchant, shop.buyer.id, sku)
    tenant = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        order = await ctx.session.get(Order, (tenant.id, order_id))
        assert order is not None
        await transition(ctx, order, "cancelled", actor="staff:abc", reason="out of season")
        assert order.status == "cancelled" and order.cancelled_at is not None
    row = await order_row(rt, merchant, order_id)
    assert row.cancel_reason == "out of season" and row.cancelled_at is not None
    async with rt.db.tenant_session(merchant.id) as session:
        events = (
            await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id))
        ).all()
    assert [(e.from_status, e.to_status, e.actor, e.reason) for e in events] == [
        ("pending_payment", "cancelled", "staff:abc", "out of season")
    ]


async def test_a_stale_order_object_cannot_move_twice(rt: Runtime, shop: Shop) -> None:
    """The UPDATE is conditional on the status the caller saw: a second mover holding the old
    state gets 409 order.state_changed, and the stock is released once."""
    merchant = shop.merchant
    sku = await make_sku(rt, merchant, stock=5)
    order_id = await insert_order(rt, merchant, shop.buyer.id, sku, quantity=2)
    tenant = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        stale = await ctx.session.get(Order, (tenant.id, order_id))
        assert stale is not None
    async with rt.tenant_context(tenant) as ctx:
        order = await ctx.session.get(Order, (tenant.id, order_id))
        assert order is not None
        await transition(ctx, order, "cancelled", actor="job:first")
    with pytest.raises(AppError) as refused:
        async with rt.tenant_context(tenant) as ctx:
            ctx.session.add(stale)
            await transition(ctx, stale, "cancelled", actor="job:second")
    assert refused.value.code == "order.state_changed"
    assert await stock_of(rt, merchant, sku.id) == 5
    assert await movements(rt, merchant, sku.id, "order_release") == 1


async def test_mark_paid_checks_the_amount_and_counts_sales(
    rt: Runtime, shop: Shop, hooks: HookRecorder
) -> None:
    merchant = shop.merchant
    sku = await make_sku(rt, merchant, price=500)
    order_id = await insert_order(rt, merchant, shop.buyer.id, sku, quantity=3)
    tenant = await rt.tenants.resolve(merchant.slug)
    with pytest.raises(AppError) as refused:
        async with rt.tenant_context(tenant) as ctx:
            await mark_paid(ctx, order_id, 1499, actor="payment:wx")
    assert (refused.value.status, refused.value.code) == (409, "order.amount_mismatch")
    assert hooks.of(tenant.id, order_id) == []

    async with rt.tenant_context(tenant) as ctx:
        await mark_paid(ctx, order_id, 1500, actor="payment:wx")
    row = await order_row(rt, merchant, order_id)
    assert (row.status, row.paid_amount) == ("paid", 1500)
    assert row.paid_at is not None
    assert hooks.of(tenant.id, order_id) == ["order_paid"]
    async with rt.db.tenant_session(merchant.id) as session:
        assert await session.scalar(select(Product.sales).where(Product.id == sku.product_id)) == 3

    with pytest.raises(AppError) as again:
        async with rt.tenant_context(tenant) as ctx:
            await mark_paid(ctx, order_id, 1500, actor="payment:wx")
    assert again.value.code == "order.invalid_transition"
    async with rt.db.tenant_session(merchant.id) as session:
        assert await session.scalar(select(Product.sales).where(Product.id == sku.product_id)) == 3


# ---- buyer and merchant over HTTP ----------------------------------------------------------


async def test_buyer_cancel_releases_stock_once(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, hooks: HookRecorder
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, stock=4)
    order_id = await insert_order(rt, merchant, buyer.id, sku, quantity=3)
    assert await stock_of(rt, merchant, sku.id) == 1

    response = await client.post(
        f"{merchant.store}/orders/{order_id}/cancel", json={"reason": "买错了"}, headers=buyer.auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "cancelled" and body["cancel_reason"] == "买错了"
    assert await stock_of(rt, merchant, sku.id) == 4
    assert hooks.of(merchant.id, order_id) == ["order_cancelled"]
    assert hooks.reasons[order_id] == "买错了"

    again = await client.post(f"{merchant.store}/orders/{order_id}/cancel", headers=buyer.auth)
    assert_problem(again, 409, "order.invalid_transition")
    assert await stock_of(rt, merchant, sku.id) == 4
    assert await movements(rt, merchant, sku.id, "order_release") == 1


async def test_buyer_cannot_cancel_a_paid_order(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant)
    order_id = await insert_order(rt, merchant, buyer.id, sku, status="paid")
    response = await client.post(f"{merchant.store}/orders/{order_id}/cancel", headers=buyer.auth)
    assert_problem(response, 409, "order.refund_required")
    merchant_cancel = await client.post(
        f"{merchant.merchant}/orders/{order_id}/cancel",
        json={"reason": "缺货"},
        headers=merchant.auth,
    )
    assert_problem(merchant_cancel, 409, "order.refund_required")
    assert (await order_row(rt, merchant, order_id)).status == "paid"


async def test_pay_ship_confirm(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, hooks: HookRecorder
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, price=1200)
    order_id = await insert_order(rt, merchant, buyer.id, sku, quantity=2)
    tenant = await rt.tenants.resolve(merchant.slug)
    url = f"{merchant.merchant}/orders/{order_id}"

    early = await client.post(
        f"{url}/ship", json={"carrier": "SF", "tracking_no": "SF123"}, headers=merchant.auth
    )
    assert_problem(early, 409, "order.invalid_transition")
    confirm_early = await client.post(
        f"{merchant.store}/orders/{order_id}/confirm-receipt", headers=buyer.auth
    )
    assert_problem(confirm_early, 409, "order.invalid_transition")

    async with rt.tenant_context(tenant) as ctx:
        await mark_paid(ctx, order_id, 2400, actor="payment:test")

    shipped = await client.post(
        f"{url}/ship",
        json={"carrier": "顺丰速运", "tracking_no": "SF1234567890"},
        headers=merchant.auth,
    )
    assert shipped.status_code == 200, shipped.text
    body = shipped.json()
    assert (body["status"], body["carrier"], body["tracking_no"]) == (
        "shipped",
        "顺丰速运",
        "SF1234567890",
    )
    assert body["shipped_at"] is not None

    confirmed = await client.post(
        f"{merchant.store}/orders/{order_id}/confirm-receipt", headers=buyer.auth
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "completed"
    assert confirmed.json()["completed_at"] is not None

    detail = await client.get(url, headers=merchant.auth)
    assert detail.status_code == 200, detail.text
    events = [(e["from_status"], e["to_status"]) for e in detail.json()["events"]]
    assert events == [
        ("pending_payment", "paid"),
        ("paid", "shipped"),
        ("shipped", "completed"),
    ]
    actors = [e["actor"] for e in detail.json()["events"]]
    assert actors[0] == "payment:test"
    assert actors[1].startswith("staff:")
    assert actors[2] == f"member:{buyer.id}"
    assert hooks.of(merchant.id, order_id) == ["order_paid", "order_fulfilled", "order_completed"]


async def test_only_express_orders_ship_and_roles_are_checked(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant)
    pickup = await insert_order(rt, merchant, buyer.id, sku, status="paid", fulfillment="pickup")
    response = await client.post(
        f"{merchant.merchant}/orders/{pickup}/ship",
        json={"carrier": "SF", "tracking_no": "SF1"},
        headers=merchant.auth,
    )
    assert_problem(response, 409, "order.not_express")

    key = await client.post(
        f"{merchant.merchant}/api-keys",
        json={"name": "pos", "role": "clerk"},
        headers=merchant.auth,
    )
    assert key.status_code == 201, key.text
    clerk = {"Authorization": f"Bearer {key.json()['key']}"}
    paid = await insert_order(rt, merchant, buyer.id, sku, status="paid")
    shipped = await client.post(
        f"{merchant.merchant}/orders/{paid}/ship",
        json={"carrier": "SF", "tracking_no": "SF2"},
        headers=clerk,
    )
    assert shipped.status_code == 200, shipped.text
    unpaid = await insert_order(rt, merchant, buyer.id, sku)
    cancel = await client.post(
        f"{merchant.merchant}/orders/{unpaid}/cancel", json={"reason": "测试"}, headers=clerk
    )
    assert_problem(cancel, 403, "auth.role_required")
    cancel = await client.post(
        f"{merchant.merchant}/orders/{unpaid}/cancel",
        json={"reason": "测试"},
        headers=merchant.auth,
    )
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["cancel_reason"] == "测试"
    assert cancel.json()["events"][-1]["actor"].startswith("staff:")

    for body in ({}, {"reason": ""}, {"reason": "x" * 201}):
        bad = await client.post(
            f"{merchant.merchant}/orders/{unpaid}/cancel", json=body, headers=merchant.auth
        )
        assert_problem(bad, 400, "request.invalid")
    for body in (
        {"carrier": "SF"},
        {"carrier": "", "tracking_no": "1"},
        {"carrier": "SF", "tracking_no": "a b"},
    ):
        bad = await client.post(
            f"{merchant.merchant}/orders/{paid}/ship", json=body, headers=merchant.auth
        )
        assert_problem(bad, 400, "request.invalid")


async def test_merchant_filters_and_paging(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    other = await make_member(rt, merchant, "other")
    sku = await make_sku(rt, merchant, stock=100)
    old = utcnow() - timedelta(days=3)
    a = await insert_order(rt, merchant, buyer.id, sku, created_at=old)
    b = await insert_order(rt, merchant, buyer.id, sku, status="paid")
    c = await insert_order(rt, merchant, other.id, sku, status="paid")
    d = await insert_order(rt, merchant, other.id, sku, status="cancelled")
    url = f"{merchant.merchant}/orders"

    async def ids(**params: Any) -> list[str]:
        response = await client.get(url, params=params, headers=merchant.auth)
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["items"]]

    assert await ids() == [d, c, b, a]  # newest first
    assert await ids(status="paid") == [c, b]
    assert await ids(member_id=buyer.id) == [b, a]
    assert await ids(member_id=other.id, status="cancelled") == [d]
    number = (await order_row(rt, merchant, c)).number
    assert await ids(number=number) == [c]
    since = (utcnow() - timedelta(days=1)).isoformat()
    assert await ids(created_from=since) == [d, c, b]
    assert await ids(created_to=since) == [a]
    naive = (utcnow() - timedelta(days=1)).replace(tzinfo=None).isoformat()
    assert await ids(created_to=naive) == [a]

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(url, params=params, headers=merchant.auth)).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [d, c, b, a]

    for params in (
        {"status": "lost"},
        {"limit": 0},
        {"limit": 101},
        {"created_from": "yesterday"},
        {"member_id": "x" * 27},
    ):
        response = await client.get(url, params=params, headers=merchant.auth)
        assert_problem(response, 400, "request.invalid")
    assert_problem(
        await client.get(url, params={"cursor": "!!"}, headers=merchant.auth),
        400,
        "request.invalid_cursor",
    )
    assert_problem(await client.get(url), 401, "auth.required")


async def test_buyer_list_and_detail(client: httpx.AsyncClient, rt: Runtime, shop: Shop) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    other = await make_member(rt, merchant, "other")
    sku = await make_sku(rt, merchant, stock=100)
    mine = await insert_order(rt, merchant, buyer.id, sku)
    paid = await insert_order(rt, merchant, buyer.id, sku, status="paid")
    theirs = await insert_order(rt, merchant, other.id, sku)

    listed = await client.get(f"{merchant.store}/orders", headers=buyer.auth)
    assert listed.status_code == 200, listed.text
    assert [o["id"] for o in listed.json()["items"]] == [paid, mine]
    assert listed.json()["items"][0]["lines"][0]["sku_id"] == sku.id
    only_paid = await client.get(
        f"{merchant.store}/orders", params={"status": "paid"}, headers=buyer.auth
    )
    assert [o["id"] for o in only_paid.json()["items"]] == [paid]

    detail = await client.get(f"{merchant.store}/orders/{mine}", headers=buyer.auth)
    assert detail.status_code == 200, detail.text
    assert "events" not in detail.json()
    assert_problem(
        await client.get(f"{merchant.store}/orders/{theirs}", headers=buyer.auth),
        404,
        "order.not_found",
    )
    assert_problem(await client.get(f"{merchant.store}/orders"), 401, "auth.required")


async def test_foreign_and_malformed_ids_are_not_found(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    other_buyer = await make_member(rt, merchant, "other")
    elsewhere = await new_shop(client, rt)
    sku = await make_sku(rt, merchant)
    foreign_sku = await make_sku(rt, elsewhere.merchant)
    order_id = await insert_order(rt, merchant, buyer.id, sku)
    foreign = await insert_order(rt, elsewhere.merchant, elsewhere.buyer.id, foreign_sku)

    store = merchant.store
    for path in (
        f"{store}/orders/{foreign}",
        f"{store}/orders/01ARZ3NDEKTSV4RRFFQ69G5FAV",
        f"{store}/orders/not-an-id",
        f"{store}/orders/{'9' * 200}",
    ):
        assert_problem(await client.get(path, headers=buyer.auth), 404, "order.not_found")
    # Another member of the same store sees nothing, and can move nothing.
    assert_problem(
        await client.get(f"{store}/orders/{order_id}", headers=other_buyer.auth),
        404,
        "order.not_found",
    )
    for action in ("cancel", "confirm-receipt"):
        assert_problem(
            await client.post(f"{store}/orders/{order_id}/{action}", headers=other_buyer.auth),
            404,
            "order.not_found",
        )
    # A merchant sees only its own store's orders.
    for path in (f"{merchant.merchant}/orders/{foreign}", f"{merchant.merchant}/orders/%20"):
        assert_problem(await client.get(path, headers=merchant.auth), 404, "order.not_found")
    assert_problem(
        await client.post(
            f"{merchant.merchant}/orders/{foreign}/cancel",
            json={"reason": "x"},
            headers=merchant.auth,
        ),
        404,
        "order.not_found",
    )
    # A member token of one store is refused by another.
    assert_problem(
        await client.get(f"{elsewhere.merchant.store}/orders/{foreign}", headers=buyer.auth),
        401,
        "auth.invalid_token",
    )
    assert (await order_row(rt, merchant, order_id)).status == "pending_payment"
    assert (await order_row(rt, elsewhere.merchant, foreign)).status == "pending_payment"
