"""Orders: placement from the cart and as a direct buy, snapshots, idempotency, refusals of
bad input. Runs on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select, update

from core.catalog.models import Product, Sku
from core.db import utcnow
from core.idempotency import HEADER
from core.inventory import service as inventory
from core.inventory.models import StockMovement
from core.members.models import Address, Member, MemberLevel
from core.orders.models import Order
from core.orders.placement import new_number, write_order
from core.runtime import Runtime
from storeplug.testing import Merchant, make_member
from storeplug.testing import problem as assert_problem
from tests.commerce.orders_support import (
    HookRecorder,
    Shop,
    add_to_cart,
    cart_line_ids,
    count_orders,
    direct,
    insert_order,
    make_address,
    make_sku,
    movements,
    new_shop,
    order_row,
    place,
    set_store,
    stock_of,
)

# ---- placement -----------------------------------------------------------------------------


async def give_level(rt: Runtime, merchant: Merchant, member_id: str, percent: int) -> None:
    async with rt.db.tenant_session(merchant.id) as session:
        level = MemberLevel(name="金卡", threshold=0, discount_percent=percent)
        session.add(level)
        await session.flush()
        await session.execute(
            update(Member).where(Member.id == member_id).values(level_id=level.id)
        )


async def test_place_from_cart(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, hooks: HookRecorder
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    tee = await make_sku(rt, merchant, price=1990, stock=10)
    mug = await make_sku(rt, merchant, price=999, stock=5, title="马克杯", specs={"容量": "350ml"})
    spare = await make_sku(rt, merchant, price=100, stock=5)
    await give_level(rt, merchant, buyer.id, 5)
    await set_store(rt, merchant, shipping_fee=800)
    address_id = await make_address(rt, merchant, buyer.id)
    tee_line = await add_to_cart(rt, merchant, buyer.id, tee, 2)
    mug_line = await add_to_cart(rt, merchant, buyer.id, mug, 1)
    kept = await add_to_cart(rt, merchant, buyer.id, spare, 1, selected=False)

    before = utcnow()
    response = await place(
        client,
        merchant,
        buyer,
        {
            "from_cart": True,
            "fulfillment": "express",
            "fulfillment_data": {"address_id": address_id},
            "note": "请尽快发货",
        },
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "pending_payment"
    assert order["member_id"] == buyer.id
    assert order["number"][:8].isdigit() and len(order["number"]) == 20
    assert order["note"] == "请尽快发货"
    # 2 × 19.90 + 9.99 = 49.79; 5% off per line, floored: 1.99 + 0.49; shipping 8.00.
    assert order["items_total"] == 4979
    assert order["discount_total"] == 199 + 49
    assert order["shipping_fee"] == 800
    assert order["payable"] == 4979 - 248 + 800
    sources = [(a["source"], a["stage"], a["amount"]) for a in order["adjustments"]]
    # In stage order; within a stage, line by line (the cart lists its newest line first).
    assert sorted(sources[:2]) == [
        ("core.level", "promotion", -199),
        ("core.level", "promotion", -49),
    ]
    assert sources[2] == ("core.shipping", "fees", 800)
    lines = {line["sku_id"]: line for line in order["lines"]}
    assert lines[tee.id]["title"] == "纯棉T恤"
    assert lines[tee.id]["sku_label"] == "M / 红"  # spec values, by spec name (尺码, 颜色)
    assert lines[tee.id]["image"] == "https://img.example/tee.png"
    assert (lines[tee.id]["unit_price"], lines[tee.id]["quantity"]) == (1990, 2)
    assert lines[tee.id]["line_total"] == 3980 - 199
    assert [a["label"] for a in lines[tee.id]["adjustments"]] == ["会员9.5折"]
    assert lines[mug.id]["sku_label"] == "350ml"
    assert lines[mug.id]["line_total"] == 999 - 49
    assert order["fulfillment_data"] == {
        "address_id": address_id,
        "name": "张三",
        "phone": "13800000000",
        "province": "广东省",
        "city": "深圳市",
        "district": "南山区",
        "detail": "科技园1号",
    }
    deadline = order["payment_deadline"]
    assert deadline is not None
    window = (datetime.fromisoformat(deadline) - before).total_seconds()
    assert 15 * 60 - 5 <= window <= 15 * 60 + 30

    assert await stock_of(rt, merchant, tee.id) == 8
    assert await stock_of(rt, merchant, mug.id) == 4
    assert await cart_line_ids(rt, merchant, buyer.id) == {kept}
    assert tee_line and mug_line
    async with rt.db.tenant_session(merchant.id) as session:
        ledger = (
            await session.scalars(select(StockMovement).where(StockMovement.ref == order["id"]))
        ).all()
        stored = await session.get(Order, (merchant.id, order["id"]))
    assert sorted((m.sku_id, m.delta, m.reason) for m in ledger) == sorted(
        [(tee.id, -2, "order_reserve"), (mug.id, -1, "order_reserve")]
    )
    assert stored is not None and stored.payable == order["payable"]
    assert [a["amount"] for a in stored.adjustments] == [s[2] for s in sources]
    assert hooks.of(merchant.id, order["id"]) == ["order_before_place", "order_placed"]

    # The snapshot stays when the catalog and the address change afterwards.
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(update(Product).values(title="改名了", images=[]))
        await session.execute(update(Sku).values(price=1, specs={"颜色": "蓝"}))
        await session.execute(update(Address).values(detail="搬家了"))
    again = await client.get(f"{merchant.store}/orders/{order['id']}", headers=buyer.auth)
    assert again.status_code == 200, again.text
    assert again.json()["lines"] == order["lines"]
    assert again.json()["fulfillment_data"]["detail"] == "科技园1号"
    history = await client.get(f"{merchant.merchant}/orders/{order['id']}", headers=merchant.auth)
    assert [(e["from_status"], e["to_status"]) for e in history.json()["events"]] == [
        ("", "pending_payment")
    ]


async def test_place_named_cart_lines_and_direct_buy(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    tee = await make_sku(rt, merchant, price=1000, stock=10)
    mug = await make_sku(rt, merchant, price=500, stock=10)
    address_id = await make_address(rt, merchant, buyer.id)
    tee_line = await add_to_cart(rt, merchant, buyer.id, tee, 1)
    mug_line = await add_to_cart(rt, merchant, buyer.id, mug, 3, selected=False)

    named = await place(
        client,
        merchant,
        buyer,
        {
            "from_cart": True,
            "line_ids": [mug_line],
            "fulfillment_data": {"address_id": address_id},
        },
    )
    assert named.status_code == 201, named.text
    assert [(li["sku_id"], li["quantity"]) for li in named.json()["lines"]] == [(mug.id, 3)]
    assert await cart_line_ids(rt, merchant, buyer.id) == {tee_line}

    bought = await place(client, merchant, buyer, direct(tee, 4, address_id))
    assert bought.status_code == 201, bought.text
    assert bought.json()["payable"] == 4000
    assert [(li["sku_id"], li["quantity"]) for li in bought.json()["lines"]] == [(tee.id, 4)]
    # A direct buy leaves the cart alone.
    assert await cart_line_ids(rt, merchant, buyer.id) == {tee_line}
    assert await stock_of(rt, merchant, tee.id) == 6

    both = await place(
        client,
        merchant,
        buyer,
        {
            "items": [{"sku_id": tee.id, "quantity": 1}, {"sku_id": mug.id, "quantity": 2}],
            "fulfillment_data": {"address_id": address_id},
        },
    )
    assert both.status_code == 201, both.text
    assert both.json()["items_total"] == 2000
    assert await stock_of(rt, merchant, mug.id) == 5


async def test_idempotent_replay_places_one_order(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, stock=5)
    address_id = await make_address(rt, merchant, buyer.id)
    body = direct(sku, 2, address_id)

    first = await place(client, merchant, buyer, body, key="checkout-1")
    assert first.status_code == 201, first.text
    replay = await place(client, merchant, buyer, body, key="checkout-1")
    assert replay.status_code == 201, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert await count_orders(rt, merchant) == 1
    assert await stock_of(rt, merchant, sku.id) == 3
    assert await movements(rt, merchant, sku.id, "order_reserve") == 1

    other = await place(client, merchant, buyer, direct(sku, 1, address_id), key="checkout-1")
    assert_problem(other, 422, "idempotency.key_reused")
    assert_problem(
        await place(client, merchant, buyer, body, key=None), 400, "idempotency.key_required"
    )
    # Keys belong to the member: another member's same key is a new order.
    second_buyer = await make_member(rt, merchant)
    theirs = await place(
        client,
        merchant,
        second_buyer,
        direct(sku, 1, await make_address(rt, merchant, second_buyer.id)),
        key="checkout-1",
    )
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != first.json()["id"]
    assert await count_orders(rt, merchant) == 2


async def test_a_refused_placement_changes_nothing(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, hooks: HookRecorder
) -> None:
    """A plugin refusing in order_before_place rolls back the stock, the order and the cart
    removal, and the Idempotency-Key can be used again."""
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, stock=3)
    address_id = await make_address(rt, merchant, buyer.id)
    line = await add_to_cart(rt, merchant, buyer.id, sku, 2)
    body = {"from_cart": True, "fulfillment_data": {"address_id": address_id}}
    hooks.refuse_placing = True
    refused = await place(client, merchant, buyer, body, key="try-1")
    assert_problem(refused, 409, "test.team_full")
    assert await stock_of(rt, merchant, sku.id) == 3
    assert await movements(rt, merchant, sku.id, "order_reserve") == 0
    assert await count_orders(rt, merchant) == 0
    assert await cart_line_ids(rt, merchant, buyer.id) == {line}
    # Only this store's calls: the server's cron sweeps other tests' stores meanwhile.
    assert [h for h, t, _ in hooks.calls if t == merchant.id] == ["order_before_place"]

    hooks.refuse_placing = False
    placed = await place(client, merchant, buyer, body, key="try-1")
    assert placed.status_code == 201, placed.text
    assert await stock_of(rt, merchant, sku.id) == 1


async def test_bad_orders_are_refused_with_a_code(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, merchant, stock=3, safety_stock=1)
    off = await make_sku(rt, merchant, on_shelf=False)
    other = await make_member(rt, merchant, "other")
    mine = await make_address(rt, merchant, buyer.id)
    theirs = await make_address(rt, merchant, other.id)
    their_line = await add_to_cart(rt, merchant, other.id, sku, 1)
    elsewhere = await new_shop(client, rt)
    foreign_sku = await make_sku(rt, elsewhere.merchant)
    unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    address = {"address_id": mine}

    def items(*rows: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"items": list(rows), "fulfillment_data": address, **extra}

    cases: list[tuple[dict[str, Any], int, str]] = [
        (items({"sku_id": sku.id, "quantity": 0}), 400, "request.invalid"),
        (items({"sku_id": sku.id, "quantity": -1}), 400, "request.invalid"),
        (items({"sku_id": sku.id, "quantity": 10**6}), 400, "request.invalid"),
        (items({"sku_id": sku.id}), 400, "request.invalid"),
        (items({"sku_id": "not-a-sku", "quantity": 1}), 400, "request.invalid"),
        (items({"sku_id": sku.id, "quantity": 1}, note="x" * 201), 400, "request.invalid"),
        (items({"sku_id": sku.id, "quantity": 1}, color="red"), 400, "request.invalid"),
        (items(), 400, "request.invalid"),
        (items({"sku_id": sku.id, "quantity": 1}, fulfillment="Express!"), 400, "request.invalid"),
        (
            {"from_cart": True, "line_ids": ["bad"], "fulfillment_data": address},
            400,
            "request.invalid",
        ),
        (items({"sku_id": unknown, "quantity": 1}), 404, "cart.unknown_sku"),
        (items({"sku_id": foreign_sku.id, "quantity": 1}), 404, "cart.unknown_sku"),
        (items({"sku_id": off.id, "quantity": 1}), 409, "cart.off_shelf"),
        # 3 in stock, 1 kept back as safety stock: 2 can be sold.
        (items({"sku_id": sku.id, "quantity": 3}), 409, "cart.insufficient_stock"),
        (items({"sku_id": sku.id, "quantity": 1000}), 409, "cart.insufficient_stock"),
        (
            items({"sku_id": sku.id, "quantity": 1}, {"sku_id": sku.id, "quantity": 1}),
            422,
            "order.duplicate_item",
        ),
        (
            items({"sku_id": sku.id, "quantity": 1, "activity": "nope:1"}),
            422,
            "cart.unknown_activity",
        ),
        (items({"sku_id": sku.id, "quantity": 1}, from_cart=True), 422, "order.invalid_source"),
        ({"fulfillment_data": address}, 422, "order.invalid_source"),
        (
            {"line_ids": [their_line], "items": [], "fulfillment_data": address},
            400,
            "request.invalid",
        ),
        ({"line_ids": [their_line], "fulfillment_data": address}, 422, "order.invalid_source"),
        ({"from_cart": True, "fulfillment_data": address}, 422, "cart.empty"),
        (
            {"from_cart": True, "line_ids": [their_line], "fulfillment_data": address},
            404,
            "cart.line_not_found",
        ),
        ({"items": [{"sku_id": sku.id, "quantity": 1}]}, 422, "order.address_required"),
        (
            {"items": [{"sku_id": sku.id, "quantity": 1}], "fulfillment_data": {"address_id": 7}},
            422,
            "order.address_required",
        ),
        (
            items({"sku_id": sku.id, "quantity": 1}) | {"fulfillment_data": {"address_id": theirs}},
            404,
            "address.not_found",
        ),
        (
            items({"sku_id": sku.id, "quantity": 1})
            | {"fulfillment_data": {"address_id": "x" * 99}},
            404,
            "address.not_found",
        ),
        (
            items({"sku_id": sku.id, "quantity": 1}, fulfillment="pickup"),
            422,
            "cart.fulfillment_unavailable",
        ),
    ]
    for body, status, code in cases:
        response = await place(client, merchant, buyer, body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["code"] == code, (body, response.text)

    not_json = await client.post(
        f"{merchant.store}/orders",
        content=b"{not json",
        headers={**buyer.auth, HEADER: "k", "content-type": "application/json"},
    )
    assert not_json.status_code == 400, not_json.text
    anonymous = await client.post(
        f"{merchant.store}/orders",
        json=items({"sku_id": sku.id, "quantity": 1}),
        headers={HEADER: "k"},
    )
    assert_problem(anonymous, 401, "auth.required")
    assert await count_orders(rt, merchant) == 0
    assert await stock_of(rt, merchant, sku.id) == 3
    assert await movements(rt, merchant, sku.id, "order_reserve") == 0


async def test_a_clashing_order_number_is_drawn_again(rt: Runtime, shop: Shop) -> None:
    """The unique (tenant, number) constraint decides; a clash is retried in a savepoint, so
    what the transaction did before (the stock reservation) survives it."""
    merchant = shop.merchant
    sku = await make_sku(rt, merchant, stock=5)
    taken = (
        await order_row(rt, merchant, await insert_order(rt, merchant, shop.buyer.id, sku))
    ).number
    fresh = new_number()
    drawn = iter([taken, taken, fresh])
    tenant = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        await inventory.reserve(ctx, sku.id, 1, ref="clash")
        order = Order(member_id=shop.buyer.id, items_total=100, payable=100)
        await write_order(ctx, order, lambda: next(drawn))
        order_id = order.id
    assert (await order_row(rt, merchant, order_id)).number == fresh
    assert fresh[:8].isdigit() and len(fresh) == 20
    assert await stock_of(rt, merchant, sku.id) == 3
