"""A coupon's life with its order, over HTTP: placing locks it, paying uses it, cancelling
or a whole refund gives it back; two orders racing for one coupon, exactly one gets it.

Orders are paid and refunded through the state machine (``mark_paid``, ``transition``), as
the payment provider and the refund flow do."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import Counter
from dataclasses import dataclass, field

import httpx

from core.commerce import CartView
from core.context import TenantContext
from core.coupons import service
from core.hookspecs import hookimpl
from core.orders.models import Order
from core.orders.state import mark_paid, transition
from core.runtime import Runtime
from storeplug.testing import Merchant, problem
from tests.commerce.coupons_support import TEMPLATES, claimed, coupon_row, expire, template_row
from tests.commerce.orders_support import (
    count_orders,
    direct,
    make_address,
    make_sku,
    new_shop,
    order_row,
    place,
    set_store,
    stock_of,
)


async def counts(client: httpx.AsyncClient, m: Merchant, template_id: str) -> tuple[int, int]:
    """(issued_count, used_count) as the merchant reads them."""
    body = (await client.get(f"{m.merchant}{TEMPLATES}/{template_id}", headers=m.auth)).json()
    return body["issued_count"], body["used_count"]


async def test_a_coupon_is_locked_used_and_given_back(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    shop = await new_shop(client, rt)
    m, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, m, price=3000, stock=10)
    address = await make_address(rt, m, buyer.id)
    coupon_id = await claimed(client, m, buyer, "fixed", amount=500)
    template_id = (await coupon_row(rt, m, coupon_id)).template_id
    use = {"coupon_id": coupon_id}

    placed = await place(client, m, buyer, direct(sku, 1, address, options=use))
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert (order["discount_total"], order["payable"]) == (500, 2500)
    assert [a["source"] for a in order["adjustments"]] == [f"coupon:{coupon_id}"]
    row = await coupon_row(rt, m, coupon_id)
    assert (row.status, row.order_id) == ("locked", order["id"])
    assert row.locked_at is not None

    # Held by the unpaid order: not usable again, and the automatic pick passes it by.
    problem(
        await place(client, m, buyer, direct(sku, 1, address, options=use)),
        409,
        "coupon.unavailable",
    )
    plain = await place(client, m, buyer, direct(sku, 1, address))
    assert plain.status_code == 201 and plain.json()["discount_total"] == 0
    mine = (await client.get(f"{m.store}/me/coupons", headers=buyer.auth)).json()["items"]
    assert [(c["status"], c["order_id"]) for c in mine] == [("locked", order["id"])]

    # The buyer cancels: the coupon comes back and works on the next order.
    cancel = await client.post(f"{m.store}/orders/{order['id']}/cancel", headers=buyer.auth)
    assert cancel.status_code == 200, cancel.text
    row = await coupon_row(rt, m, coupon_id)
    assert (row.status, row.order_id, row.locked_at) == ("available", None, None)
    again = await place(client, m, buyer, direct(sku, 1, address, options=use))
    assert again.status_code == 201, again.text
    second = again.json()["id"]
    assert (await counts(client, m, template_id)) == (1, 0)

    # Paid: used, and counted once however often the event repeats.
    tenant = await rt.tenants.resolve(m.slug)
    async with rt.tenant_context(tenant) as ctx:
        await mark_paid(ctx, second, 2500, actor="payment:test")
    row = await coupon_row(rt, m, coupon_id)
    assert (row.status, row.order_id) == ("used", second) and row.used_at is not None
    async with rt.tenant_context(tenant) as ctx:
        await service.consume(ctx, second)
        await service.release(ctx, second)  # a stray cancel event does not free a used coupon
    assert (await coupon_row(rt, m, coupon_id)).status == "used"
    assert (await counts(client, m, template_id)) == (1, 1)
    mine = (await client.get(f"{m.store}/me/coupons", headers=buyer.auth)).json()["items"]
    assert [c["status"] for c in mine] == ["used"]

    # Wholly refunded: the coupon is the member's again and no longer counts as used.
    async with rt.tenant_context(tenant) as ctx:
        paid = await ctx.session.get(Order, (tenant.id, second))
        assert paid is not None
        await transition(ctx, paid, "refunded", actor="job:test", reason="refund")
    row = await coupon_row(rt, m, coupon_id)
    assert (row.status, row.order_id, row.used_at) == ("available", None, None)
    async with rt.tenant_context(tenant) as ctx:
        await service.give_back(ctx, second)
    assert (await counts(client, m, template_id)) == (1, 0)
    assert (await order_row(rt, m, second)).status == "refunded"

    # Given back after its validity ended, it reads as expired and cannot be chosen.
    await expire(rt, m, coupon_id)
    mine = (await client.get(f"{m.store}/me/coupons", headers=buyer.auth)).json()["items"]
    assert [c["status"] for c in mine] == ["expired"]
    problem(
        await place(client, m, buyer, direct(sku, 1, address, options=use)),
        409,
        "coupon.unavailable",
    )


async def test_two_orders_race_for_one_coupon(client: httpx.AsyncClient, rt: Runtime) -> None:
    """Concurrent orders with the same coupon: exactly one is placed; the others are refused
    with 409 coupon.unavailable and hold no stock."""
    shop = await new_shop(client, rt)
    m, buyer = shop.merchant, shop.buyer
    sku, other = await make_sku(rt, m, price=2000, stock=10), await make_sku(rt, m, stock=10)
    address = await make_address(rt, m, buyer.id)
    coupon_id = await claimed(client, m, buyer, "fixed", amount=300)
    use = {"coupon_id": coupon_id}
    bodies = [direct(sku if i % 2 else other, 1, address, options=use) for i in range(6)]

    responses = await asyncio.gather(
        *(place(client, m, buyer, b, key=f"c-{i}") for i, b in enumerate(bodies))
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 5}, [
        r.text for r in responses
    ]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"coupon.unavailable"}
    winner = next(r.json() for r in responses if r.status_code == 201)
    assert winner["discount_total"] == 300
    assert await count_orders(rt, m) == 1
    assert await stock_of(rt, m, sku.id) + await stock_of(rt, m, other.id) == 19
    row = await coupon_row(rt, m, coupon_id)
    assert (row.status, row.order_id) == ("locked", winner["id"])
    assert (await template_row(rt, m, row.template_id)).issued_count == 1


@dataclass(eq=False)  # hashable: pluggy keeps plugins in sets
class Gate:
    """Holds each placement in ``order_before_place`` (before the coupon is locked) until
    ``expected`` of them are there, or a few seconds passed."""

    expected: int
    arrived: int = 0
    event: asyncio.Event = field(default_factory=asyncio.Event)

    @hookimpl
    async def order_before_place(self, ctx: TenantContext, cart: CartView, order: Order) -> None:
        self.arrived += 1
        if self.arrived >= self.expected:
            self.event.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout=2)


async def test_the_lock_decides_between_orders_priced_together(
    client: httpx.AsyncClient, rt: Runtime, backend: str
) -> None:
    """Both orders priced with the coupon before either locked it: the conditional UPDATE
    lets one through. (SQLite runs one writer at a time, so there the second order prices
    after the first committed and is refused by its cart problem instead.)"""
    shop = await new_shop(client, rt)
    m, buyer = shop.merchant, shop.buyer
    first, second = await make_sku(rt, m, stock=5), await make_sku(rt, m, stock=5)
    address = await make_address(rt, m, buyer.id)
    await set_store(rt, m, shipping_fee=0)  # saved settings: no first-use insert to wait on
    coupon_id = await claimed(client, m, buyer, "fixed", amount=300)
    use = {"coupon_id": coupon_id}
    gate = Gate(expected=2)
    name = f"tests.coupon_gate.{secrets.token_hex(4)}"
    rt.plugins.pm.register(gate, name=name)
    try:
        responses = await asyncio.gather(
            place(client, m, buyer, direct(first, 1, address, options=use)),
            place(client, m, buyer, direct(second, 1, address, options=use)),
        )
    finally:
        rt.plugins.pm.unregister(name=name)
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    loser = next(r for r in responses if r.status_code == 409)
    problem(loser, 409, "coupon.unavailable")
    if backend == "postgres":
        assert gate.arrived == 2
        assert "another order took it" in loser.json()["detail"]
    assert await count_orders(rt, m) == 1
    assert await stock_of(rt, m, first.id) + await stock_of(rt, m, second.id) == 9
    winner = next(r.json() for r in responses if r.status_code == 201)
    assert (await coupon_row(rt, m, coupon_id)).order_id == winner["id"]
