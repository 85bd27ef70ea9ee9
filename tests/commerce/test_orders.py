"""Orders: placement (from the cart and direct), snapshots, idempotency, the state machine
(every pair of states), cancel/ship/confirm over HTTP, merchant filters, and refusals of bad
or foreign input. Runs on SQLite and on PostgreSQL + Redis.

The helpers at the top are shared by test_order_races.py and test_order_jobs.py."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from core.cart.models import CartLine
from core.catalog.models import Product, Sku
from core.context import TenantContext
from core.db import utcnow
from core.errors import AppError
from core.hookspecs import hookimpl
from core.idempotency import HEADER
from core.inventory import service as inventory
from core.inventory.models import StockMovement
from core.members.models import Address, Member, MemberLevel
from core.orders.models import ORDER_STATES, Order, OrderEvent, OrderLine
from core.orders.placement import new_number, write_order
from core.orders.state import TRANSITIONS, mark_paid, transition
from core.runtime import Runtime
from core.store.models import StoreSettings
from tests.helpers import Merchant, Shopper, make_member, onboard

# ---- shared helpers ----------------------------------------------------------------------


@dataclass
class HookRecorder:
    """A hookimpl object that records every order hook it hears: (hook, tenant, order id)."""

    calls: list[tuple[str, str, str]] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    refuse_placing: bool = False  # order_before_place refuses, as a plugin may

    def of(self, tenant_id: str, order_id: str) -> list[str]:
        return [h for h, t, o in self.calls if t == tenant_id and o == order_id]

    @hookimpl
    async def order_before_place(self, ctx: TenantContext, cart: Any, order: Order) -> None:
        assert cart.lines, "the cart view is passed along"
        self.calls.append(("order_before_place", ctx.tenant_id, order.id))
        if self.refuse_placing:
            raise AppError("the team is full", code="test.team_full", status=409)

    @hookimpl
    async def order_placed(self, ctx: TenantContext, order: Order) -> None:
        self.calls.append(("order_placed", ctx.tenant_id, order.id))

    @hookimpl
    async def order_paid(self, ctx: TenantContext, order: Order) -> None:
        self.calls.append(("order_paid", ctx.tenant_id, order.id))

    @hookimpl
    async def order_cancelled(self, ctx: TenantContext, order: Order, reason: str) -> None:
        self.calls.append(("order_cancelled", ctx.tenant_id, order.id))
        self.reasons[order.id] = reason

    @hookimpl
    async def order_fulfilled(self, ctx: TenantContext, order: Order) -> None:
        self.calls.append(("order_fulfilled", ctx.tenant_id, order.id))

    @hookimpl
    async def order_completed(self, ctx: TenantContext, order: Order) -> None:
        self.calls.append(("order_completed", ctx.tenant_id, order.id))


@pytest.fixture
def hooks(rt: Runtime) -> Iterator[HookRecorder]:
    """Listen to the order hooks for one test (registered like an always-on core module)."""
    recorder = HookRecorder()
    name = f"tests.order_hooks.{secrets.token_hex(4)}"
    rt.plugins.pm.register(recorder, name=name)
    yield recorder
    rt.plugins.pm.unregister(name=name)


@dataclass
class Shop:
    merchant: Merchant
    buyer: Shopper


async def new_shop(client: httpx.AsyncClient, rt: Runtime) -> Shop:
    merchant = await onboard(client)
    return Shop(merchant=merchant, buyer=await make_member(rt, merchant))


async def make_sku(
    rt: Runtime,
    merchant: Merchant,
    *,
    price: int = 1990,
    stock: int = 10,
    on_shelf: bool = True,
    safety_stock: int = 0,
    title: str = "纯棉T恤",
    specs: dict[str, str] | None = None,
) -> Sku:
    async with rt.db.tenant_session(merchant.id) as session:
        product = Product(
            title=title,
            status="on" if on_shelf else "off",
            images=["https://img.example/tee.png"],
            min_price=price,
        )
        session.add(product)
        await session.flush()
        sku = Sku(
            product_id=product.id,
            specs={"颜色": "红", "尺码": "M"} if specs is None else specs,
            price=price,
            stock=stock,
            safety_stock=safety_stock,
        )
        session.add(sku)
        await session.flush()
    return sku


async def make_address(rt: Runtime, merchant: Merchant, member_id: str) -> str:
    async with rt.db.tenant_session(merchant.id) as session:
        address = Address(
            member_id=member_id,
            name="张三",
            phone="13800000000",
            province="广东省",
            city="深圳市",
            district="南山区",
            detail="科技园1号",
        )
        session.add(address)
        await session.flush()
        return address.id


async def set_store(rt: Runtime, merchant: Merchant, **values: Any) -> None:
    async with rt.db.tenant_session(merchant.id) as session:
        row = await session.get(StoreSettings, merchant.id)
        if row is None:
            session.add(StoreSettings(tenant_id=merchant.id, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)


async def stock_of(rt: Runtime, merchant: Merchant, sku_id: str) -> int:
    async with rt.db.tenant_session(merchant.id) as session:
        stock = await session.scalar(select(Sku.stock).where(Sku.id == sku_id))
    assert stock is not None
    return stock


async def movements(rt: Runtime, merchant: Merchant, sku_id: str, reason: str) -> int:
    async with rt.db.tenant_session(merchant.id) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(StockMovement)
            .where(StockMovement.sku_id == sku_id, StockMovement.reason == reason)
        )
    return count or 0


async def order_row(rt: Runtime, merchant: Merchant, order_id: str) -> Order:
    async with rt.db.tenant_session(merchant.id) as session:
        order = await session.get(Order, (merchant.id, order_id))
    assert order is not None
    return order


async def insert_order(
    rt: Runtime,
    merchant: Merchant,
    member_id: str,
    sku: Sku,
    *,
    status: str = "pending_payment",
    quantity: int = 1,
    fulfillment: str = "express",
    created_at: Any = None,
) -> str:
    """An order written straight to the database with its stock reserved, in any state (the
    state-machine tests start from every state)."""
    tenant = await rt.tenants.resolve(merchant.slug)
    now = created_at or utcnow()
    async with rt.tenant_context(tenant) as ctx:
        order = Order(
            number=f"T{secrets.randbelow(10**18):018d}",
            member_id=member_id,
            status=status,
            items_total=sku.price * quantity,
            payable=sku.price * quantity,
            paid_amount=0 if status in ("pending_payment", "cancelled") else sku.price * quantity,
            fulfillment=fulfillment,
            payment_deadline=now + timedelta(minutes=15),
            shipped_at=now if status in ("shipped", "completed") else None,
            created_at=now,
        )
        ctx.session.add(order)
        await ctx.session.flush()
        ctx.session.add(
            OrderLine(
                order_id=order.id,
                sku_id=sku.id,
                product_id=sku.product_id,
                title="纯棉T恤",
                unit_price=sku.price,
                quantity=quantity,
                line_total=sku.price * quantity,
            )
        )
        await inventory.reserve(ctx, sku.id, quantity, ref=order.id)
        return order.id


async def add_to_cart(
    rt: Runtime, merchant: Merchant, member_id: str, sku: Sku, quantity: int, selected: bool = True
) -> str:
    async with rt.db.tenant_session(merchant.id) as session:
        line = CartLine(member_id=member_id, sku_id=sku.id, quantity=quantity, selected=selected)
        session.add(line)
        await session.flush()
        return line.id


async def cart_line_ids(rt: Runtime, merchant: Merchant, member_id: str) -> set[str]:
    async with rt.db.tenant_session(merchant.id) as session:
        rows = await session.scalars(select(CartLine.id).where(CartLine.member_id == member_id))
        return set(rows.all())


async def place(
    client: httpx.AsyncClient,
    merchant: Merchant,
    buyer: Shopper,
    body: dict[str, Any],
    key: str | None = "",
) -> httpx.Response:
    """POST an order; a fresh Idempotency-Key unless one is given (None: no header)."""
    headers = dict(buyer.auth)
    if key is not None:
        headers[HEADER] = key or secrets.token_hex(8)
    return await client.post(f"{merchant.store}/orders", json=body, headers=headers)


def direct(sku: Sku, quantity: int = 1, address_id: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "items": [{"sku_id": sku.id, "quantity": quantity}],
        "fulfillment": "express",
        "fulfillment_data": {"address_id": address_id},
        **extra,
    }


async def count_orders(rt: Runtime, merchant: Merchant) -> int:
    async with rt.db.tenant_session(merchant.id) as session:
        return await session.scalar(select(func.count()).select_from(Order)) or 0


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.text


@pytest.fixture
async def shop(client: httpx.AsyncClient, rt: Runtime) -> AsyncIterator[Shop]:
    yield await new_shop(client, rt)


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
    assert [h for h, _, _ in hooks.calls] == ["order_before_place"]

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
