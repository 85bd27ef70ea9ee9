"""A plugin holds a paid order back from fulfillment (``Order.fulfillment_hold``) and lifts the
hold with ``release_fulfillment``, which fires ``order_released`` for a paid order. While held,
``paid → shipped | awaiting_pickup`` is refused with 409 ``order.fulfillment_held``, even when
the hold was set after the mover read the order. Runs on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from core.context import TenantContext
from core.errors import AppError
from core.hookspecs import hookimpl
from core.orders.models import Order, OrderEvent
from core.orders.state import mark_paid, release_fulfillment, transition
from core.runtime import Runtime
from storeplug.testing import Merchant, problem
from tests.commerce.orders_support import (
    HookRecorder,
    Shop,
    direct,
    hold_order,
    insert_order,
    make_address,
    make_sku,
    order_row,
    place,
)
from tests.commerce.payments_support import pay, use_sandbox

SHIP = {"carrier": "顺丰速运", "tracking_no": "SF1234567890"}


@dataclass(eq=False)  # registered as a plugin: pluggy keeps plugins in sets
class Holder:
    """Holds every order placed with ``options.hold`` as a group-buy plugin would: by setting
    the column on the flushed order in ``order_before_place``."""

    name: str = "testhold"

    @hookimpl
    async def order_before_place(self, ctx: TenantContext, cart: Any, order: Order) -> None:
        if cart.options.get("hold"):
            order.fulfillment_hold = self.name


@contextmanager
def holding(rt: Runtime) -> Iterator[Holder]:
    holder = Holder()
    name = f"tests.holder.{secrets.token_hex(4)}"
    rt.plugins.pm.register(holder, name=name)
    try:
        yield holder
    finally:
        rt.plugins.pm.unregister(name=name)


async def _release(rt: Runtime, merchant: Merchant, order_id: str, holder: str) -> bool:
    tenant = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        order = await ctx.session.get(Order, (tenant.id, order_id))
        assert order is not None
        return await release_fulfillment(ctx, order, holder)


async def _move(rt: Runtime, merchant: Merchant, order_id: str, target: str) -> None:
    tenant = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        order = await ctx.session.get(Order, (tenant.id, order_id))
        assert order is not None
        await transition(ctx, order, target, actor="job:test", reason="test")


async def _events(rt: Runtime, merchant: Merchant, order_id: str) -> list[tuple[str, ...]]:
    async with rt.db.tenant_session(merchant.id) as session:
        rows = await session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
        return [(e.from_status, e.to_status, e.actor, e.reason) for e in rows]


async def test_a_held_express_order_ships_only_after_release(
    client: httpx.AsyncClient, rt: Runtime, shop: Shop, hooks: HookRecorder
) -> None:
    merchant, buyer = shop.merchant, shop.buyer
    await use_sandbox(client, merchant)
    sku = await make_sku(rt, merchant, price=1500)
    address = await make_address(rt, merchant, buyer.id)
    with holding(rt):
        placed = await place(client, merchant, buyer, direct(sku, 1, address, options={"hold": 1}))
        plain = await place(client, merchant, buyer, direct(sku, 1, address))
    assert placed.status_code == 201 and plain.status_code == 201, (placed.text, plain.text)
    order_id = placed.json()["id"]
    # Set on the flushed order in order_before_place, written with the placement.
    assert placed.json()["fulfillment_hold"] == "testhold"
    assert plain.json()["fulfillment_hold"] == ""
    assert (await order_row(rt, merchant, order_id)).fulfillment_hold == "testhold"

    paid = await pay(client, merchant, buyer, order_id)
    assert paid.status_code == 201, paid.text
    url = f"{merchant.merchant}/orders/{order_id}"
    refused = problem(
        await client.post(f"{url}/ship", json=SHIP, headers=merchant.auth),
        409,
        "order.fulfillment_held",
    )
    assert "testhold" in refused["detail"]
    row = await order_row(rt, merchant, order_id)
    assert (row.status, row.carrier, row.shipped_at) == ("paid", "", None)
    assert "order_fulfilled" not in hooks.of(merchant.id, order_id)
    # Both the buyer and the merchant see who holds it.
    mine = await client.get(f"{merchant.store}/orders/{order_id}", headers=buyer.auth)
    assert mine.json()["fulfillment_hold"] == "testhold"
    listed = await client.get(f"{merchant.merchant}/orders", headers=merchant.auth)
    assert {o["id"]: o["fulfillment_hold"] for o in listed.json()["items"]}[order_id] == "testhold"

    assert await _release(rt, merchant, order_id, "testhold") is True
    assert await _release(rt, merchant, order_id, "testhold") is False  # idempotent
    assert hooks.of(merchant.id, order_id).count("order_released") == 1

    shipped = await client.post(f"{url}/ship", json=SHIP, headers=merchant.auth)
    assert shipped.status_code == 200, shipped.text
    body = shipped.json()
    assert (body["status"], body["fulfillment_hold"]) == ("shipped", "")
    events = body["events"]
    assert [(e["from_status"], e["to_status"]) for e in events] == [
        ("", "pending_payment"),
        ("pending_payment", "paid"),
        ("paid", "paid"),  # the release
        ("paid", "shipped"),
    ]
    assert (events[2]["actor"], events[2]["reason"]) == ("plugin:testhold", "released by testhold")
    assert hooks.of(merchant.id, order_id) == [
        "order_before_place",
        "order_placed",
        "order_paid",
        "order_released",
        "order_fulfilled",
    ]


async def test_release_by_another_holder_does_nothing(
    rt: Runtime, shop: Shop, hooks: HookRecorder
) -> None:
    merchant = shop.merchant
    sku = await make_sku(rt, merchant)
    order_id = await insert_order(rt, merchant, shop.buyer.id, sku, status="paid")
    await hold_order(rt, merchant, order_id, "groupbuy")
    assert await _release(rt, merchant, order_id, "points") is False
    assert await _release(rt, merchant, order_id, "") is False  # "" is nobody
    assert (await order_row(rt, merchant, order_id)).fulfillment_hold == "groupbuy"
    assert await _events(rt, merchant, order_id) == []
    assert hooks.of(merchant.id, order_id) == []
    for target in ("shipped", "awaiting_pickup"):
        with pytest.raises(AppError) as refused:
            await _move(rt, merchant, order_id, target)
        assert (refused.value.status, refused.value.code) == (409, "order.fulfillment_held")
        assert "groupbuy" in refused.value.detail
    assert (await order_row(rt, merchant, order_id)).status == "paid"

    assert await _release(rt, merchant, order_id, "groupbuy") is True
    assert await _events(rt, merchant, order_id) == [
        ("paid", "paid", "plugin:groupbuy", "released by groupbuy")
    ]
    assert hooks.of(merchant.id, order_id) == ["order_released"]
    await _move(rt, merchant, order_id, "awaiting_pickup")
    assert (await order_row(rt, merchant, order_id)).status == "awaiting_pickup"


async def test_a_hold_set_after_the_order_was_read_still_stops_it(
    rt: Runtime, shop: Shop, hooks: HookRecorder
) -> None:
    """The mover read the order unheld; the hold came in between: the conditional UPDATE
    (``AND fulfillment_hold = ''``) refuses, with the hold's own code."""
    merchant = shop.merchant
    sku = await make_sku(rt, merchant)
    order_id = await insert_order(rt, merchant, shop.buyer.id, sku, status="paid")
    tenant = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        stale = await ctx.session.get(Order, (tenant.id, order_id))
        assert stale is not None and stale.fulfillment_hold == ""
    await hold_order(rt, merchant, order_id, "groupbuy")
    with pytest.raises(AppError) as refused:
        async with rt.tenant_context(tenant) as ctx:
            ctx.session.add(stale)
            await transition(ctx, stale, "shipped", actor="job:test")
    assert (refused.value.status, refused.value.code) == (409, "order.fulfillment_held")
    row = await order_row(rt, merchant, order_id)
    assert (row.status, row.fulfillment_hold) == ("paid", "groupbuy")
    assert hooks.of(merchant.id, order_id) == []


async def test_a_held_order_still_pays_cancels_and_refunds(
    rt: Runtime, shop: Shop, hooks: HookRecorder
) -> None:
    """Only the moves into fulfillment wait; releasing an unpaid order fires no hook, and the
    payment then finds it unheld."""
    merchant = shop.merchant
    sku = await make_sku(rt, merchant, price=800)
    cancelled = await insert_order(rt, merchant, shop.buyer.id, sku)
    await hold_order(rt, merchant, cancelled, "groupbuy")
    await _move(rt, merchant, cancelled, "cancelled")
    refunded = await insert_order(rt, merchant, shop.buyer.id, sku, status="paid")
    await hold_order(rt, merchant, refunded, "groupbuy")
    await _move(rt, merchant, refunded, "refunded")
    assert [(await order_row(rt, merchant, o)).status for o in (cancelled, refunded)] == [
        "cancelled",
        "refunded",
    ]
    # A refunded order's hold can still be cleared, but there is nothing to fulfil.
    assert await _release(rt, merchant, refunded, "groupbuy") is True
    assert "order_released" not in hooks.of(merchant.id, refunded)

    unpaid = await insert_order(rt, merchant, shop.buyer.id, sku)
    await hold_order(rt, merchant, unpaid, "groupbuy")
    tenant = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(tenant) as ctx:
        await mark_paid(ctx, unpaid, 800, actor="payment:test")
    assert await _release(rt, merchant, unpaid, "groupbuy") is True
    assert hooks.of(merchant.id, unpaid) == ["order_paid", "order_released"]

    early = await insert_order(rt, merchant, shop.buyer.id, sku)
    await hold_order(rt, merchant, early, "groupbuy")
    assert await _release(rt, merchant, early, "groupbuy") is True
    assert await _events(rt, merchant, early) == [
        ("pending_payment", "pending_payment", "plugin:groupbuy", "released by groupbuy")
    ]
    assert hooks.of(merchant.id, early) == []
    async with rt.tenant_context(tenant) as ctx:
        await mark_paid(ctx, early, 800, actor="payment:test")
    await _move(rt, merchant, early, "shipped")
    assert hooks.of(merchant.id, early) == ["order_paid", "order_fulfilled"]


async def test_the_order_schemas_show_the_hold(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    components = schema["components"]["schemas"]
    for name in ("OrderOut", "MerchantOrderOut"):
        found = [s for key, s in components.items() if key.endswith(name)]
        assert found, sorted(components)
        assert all(s["properties"]["fulfillment_hold"]["type"] == "string" for s in found)
