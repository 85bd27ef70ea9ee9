"""The pricing pipeline (core.cart.pricing) and the core's cart hooks (core.cart.defaults):
load_cart_data, validate_cart_line, price_adjustments by stage and fulfillment_options, with
the echo test plugin answering beside the core."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from core.cart.defaults import level_label
from core.cart.pricing import PricingContractError, build_view, price, validate
from core.cart.schemas import LineInput, PricedCart
from core.catalog.models import Product, Sku
from core.commerce import STAGES
from core.context import TenantContext
from core.errors import AppError
from core.members.models import Member, MemberLevel
from core.runtime import Runtime
from core.store.service import settings_in
from storeplug.testing import Merchant, Shopper, enable, make_member, onboard

# ---- helpers (test_cart.py uses them too) ---------------------------------------------------

IMAGE = "https://img.test/p.png"


async def make_sku(
    rt: Runtime,
    merchant: Merchant,
    *,
    price: int = 1000,
    stock: int = 100,
    safety_stock: int = 0,
    on_shelf: bool = True,
    active: bool = True,
    title: str = "Oolong tea",
) -> str:
    async with rt.db.tenant_session(merchant.id) as session:
        product = Product(title=title, status="on" if on_shelf else "off", images=[IMAGE])
        session.add(product)
        await session.flush()
        sku = Sku(
            product_id=product.id,
            price=price,
            stock=stock,
            safety_stock=safety_stock,
            active=active,
            specs={"size": "250g", "pack": "tin"},
        )
        session.add(sku)
        await session.flush()
        return sku.id


async def set_level(rt: Runtime, merchant: Merchant, member: Shopper, percent: int) -> None:
    async with rt.db.tenant_session(merchant.id) as session:
        level = MemberLevel(
            name="Gold", threshold=secrets.randbelow(10**9), discount_percent=percent
        )
        session.add(level)
        await session.flush()
        row = await session.get(Member, (merchant.id, member.id))
        assert row is not None
        row.level_id = level.id


async def set_shipping(rt: Runtime, merchant: Merchant, fee: int, threshold: int | None) -> None:
    async with rt.db.tenant_session(merchant.id) as session:
        row = await settings_in(session, merchant.id)
        row.shipping_fee = fee
        row.free_shipping_threshold = threshold


async def shop(
    client: httpx.AsyncClient, rt: Runtime, echo: dict[str, Any] | None = None
) -> tuple[Merchant, Shopper]:
    """A store (with the echo plugin on when ``echo`` is given) and one of its members."""
    merchant = await onboard(client)
    if echo is not None:
        response = await enable(client, merchant, "echo", echo)
        assert response.status_code == 200, response.text
    return merchant, await make_member(rt, merchant)


@asynccontextmanager
async def tenant_ctx(rt: Runtime, merchant: Merchant) -> AsyncIterator[TenantContext]:
    info = await rt.tenants.resolve(merchant.slug)
    async with rt.tenant_context(info) as ctx:
        yield ctx


async def priced(
    rt: Runtime, merchant: Merchant, member: Shopper, lines: list[LineInput], **kwargs: Any
) -> PricedCart:
    async with tenant_ctx(rt, merchant) as ctx:
        return price(ctx.hooks, await build_view(ctx, member.id, lines, **kwargs))


def ln(key: str, sku_id: str, quantity: int = 1, activity: str = "") -> LineInput:
    return LineInput(key=key, sku_id=sku_id, quantity=quantity, activity=activity)


def summary(cart: PricedCart) -> list[tuple[str, str, int, str | None]]:
    return [(a.stage, a.source, a.amount, a.line_key) for a in cart.adjustments]


def adds_up(cart: PricedCart) -> None:
    assert cart.payable == cart.items_total - cart.discount_total + cart.fees_total
    assert cart.payable >= 0
    assert all(line.total >= 0 for line in cart.lines)


# ---- stages ------------------------------------------------------------------------------


async def test_stages_run_in_order_and_each_sees_the_earlier_ones(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    """price_adjustments runs line → promotion → coupon → points → fees; the echo coupon
    works on what the promotion stage (echo's 1 yuan and the core level discount) left."""
    merchant, member = await shop(client, rt, echo={})
    await set_level(rt, merchant, member, 5)
    await set_shipping(rt, merchant, 800, None)
    sku = await make_sku(rt, merchant, price=1999)
    lines = [ln("a", sku)]
    cart = await priced(
        rt, merchant, member, lines, fulfillment="express", options={"echo_coupon": 10}
    )
    assert summary(cart) == [
        ("promotion", "echo", -100, None),  # plugins answer before the core modules
        ("promotion", "core.level", -99, "a"),
        ("coupon", "echo", -180, None),  # 10% of 1999 - 100 - 99
        ("fees", "core.shipping", 800, None),
    ]
    order = [STAGES.index(a.stage) for a in cart.adjustments]
    assert order == sorted(order)
    assert [(b.stage, b.source, b.label, b.amount) for b in cart.breakdown] == [
        ("promotion", "echo", "ECHO -1 yuan", -100),
        ("promotion", "core.level", "会员9.5折", -99),
        ("coupon", "echo", "ECHO 10% of 1800", -180),
        ("fees", "core.shipping", "运费", 800),
    ]
    assert (cart.items_total, cart.discount_total, cart.fees_total) == (1999, 379, 800)
    assert (cart.shipping_fee, cart.payable, cart.quantity, cart.ok) == (800, 2420, 1, True)
    line = cart.lines[0]
    assert (line.base_total, line.line_stage_total, line.total) == (1999, 1999, 1900)
    assert [a.source for a in line.adjustments] == ["core.level"]
    adds_up(cart)


async def test_without_the_plugin_only_the_core_answers(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant, member = await shop(client, rt)  # echo stays off
    sku = await make_sku(rt, merchant, price=1999)
    cart = await priced(rt, merchant, member, [ln("a", sku, 2)], options={"echo_coupon": 50})
    assert cart.adjustments == []
    assert [o.method for o in cart.fulfillment_options] == ["express"]
    assert (cart.items_total, cart.payable) == (3998, 3998)


async def test_level_discount_rounds_down_to_the_fen_per_line(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant, member = await shop(client, rt)
    await set_level(rt, merchant, member, 5)
    one = await make_sku(rt, merchant, price=1999)
    two = await make_sku(rt, merchant, price=1999)
    cart = await priced(
        rt,
        merchant,
        member,
        [ln("a", one), ln("b", two)],
    )
    # 5% of 1999 is 99.95: 99 off each line, not 100 (and per line, not 199 on 3998).
    assert summary(cart) == [
        ("promotion", "core.level", -99, "a"),
        ("promotion", "core.level", -99, "b"),
    ]
    assert (cart.discount_total, cart.payable) == (198, 3800)
    assert [line.total for line in cart.lines] == [1900, 1900]
    adds_up(cart)


def test_level_labels() -> None:
    labels = [level_label(p) for p in (5, 10, 12, 50, 95, 100)]
    assert labels == ["会员9.5折", "会员9折", "会员8.8折", "会员5折", "会员0.5折", "会员免单"]


async def test_level_discount_works_on_the_line_stage_price_and_skips_opted_out_lines(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant, member = await shop(client, rt, echo={"max_items": 5})
    await set_level(rt, merchant, member, 5)
    plain = await make_sku(rt, merchant, price=1999)
    offer = await make_sku(rt, merchant, price=1000)
    lines = [ln("plain", plain), ln("offer", offer, 2, "echo:week")]
    cart = await priced(rt, merchant, member, lines, options={"echo_line_off": 500})
    assert summary(cart) == [
        ("line", "echo", -500, "plain"),
        ("line", "echo", -200, "offer"),  # ECHO's price: 1 yuan off a unit
        ("promotion", "echo", -100, None),
        ("promotion", "core.level", -74, "plain"),  # 5% of 1499, floored
    ]
    by_key = {line.key: line for line in cart.lines}
    assert (by_key["offer"].line_stage_total, by_key["offer"].total) == (1800, 1800)
    assert (by_key["plain"].line_stage_total, by_key["plain"].total) == (1499, 1425)
    adds_up(cart)


# ---- fulfillment -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "percent", "fee"),
    [(9900, 0, 0), (9899, 0, 800), (10000, 5, 800), (10422, 5, 0)],
)
async def test_free_shipping_at_exactly_the_threshold_after_discounts(
    client: httpx.AsyncClient, rt: Runtime, unit: int, percent: int, fee: int
) -> None:
    merchant, member = await shop(client, rt)
    await set_shipping(rt, merchant, 800, 9900)
    if percent:
        await set_level(rt, merchant, member, percent)  # 10000 → 9500; 10422 → 9901
    sku = await make_sku(rt, merchant, price=unit)
    cart = await priced(rt, merchant, member, [ln("a", sku)], fulfillment="express")
    assert [(o.method, o.fee, o.available) for o in cart.fulfillment_options] == [
        ("express", fee, True)
    ]
    assert cart.shipping_fee == fee
    assert cart.payable == unit - unit * percent // 100 + fee
    assert [a.source for a in cart.adjustments if a.stage == "fees"] == (
        ["core.shipping"] if fee else []
    )


async def test_no_threshold_always_charges_and_no_fee_is_free(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant, member = await shop(client, rt)
    sku = await make_sku(rt, merchant, price=10**6)
    line = [ln("a", sku)]
    cart = await priced(rt, merchant, member, line, fulfillment="express")
    assert (cart.fulfillment_options[0].fee, cart.shipping_fee) == (0, 0)  # default: no fee
    await set_shipping(rt, merchant, 1200, None)
    cart = await priced(rt, merchant, member, line, fulfillment="express")
    assert (cart.fulfillment_options[0].fee, cart.payable) == (1200, 10**6 + 1200)
    cart = await priced(rt, merchant, member, line)  # nothing chosen: offered, not charged
    assert (cart.fulfillment_options[0].fee, cart.payable, cart.ok) == (1200, 10**6, True)


async def test_an_unknown_or_unavailable_method_is_a_problem_and_charges_nothing(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant, member = await shop(client, rt, echo={})
    await set_shipping(rt, merchant, 800, None)
    sku = await make_sku(rt, merchant, price=500)
    line = [ln("a", sku)]

    cart = await priced(rt, merchant, member, line, fulfillment="echo_pickup")
    assert [o.method for o in cart.fulfillment_options] == ["echo_pickup", "express"]
    assert (cart.ok, cart.shipping_fee, cart.payable) == (True, 0, 400)

    cart = await priced(
        rt, merchant, member, line, fulfillment="echo_pickup", options={"echo_closed": True}
    )
    assert [(p.line_key, p.code, p.message) for p in cart.problems] == [
        ("", "cart.fulfillment_unavailable", "the ECHO counter is closed")
    ]
    assert cart.ok is False

    cart = await priced(rt, merchant, member, line, fulfillment="drone")
    assert [p.code for p in cart.problems] == ["cart.fulfillment_unavailable"]
    assert (cart.shipping_fee, cart.payable) == (0, 400)


# ---- never negative, never trusted -------------------------------------------------------


async def test_the_total_is_never_negative_whatever_a_plugin_asks(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant, member = await shop(client, rt, echo={})
    await set_shipping(rt, merchant, 800, None)
    sku = await make_sku(rt, merchant, price=1999)
    line = [ln("a", sku)]

    cart = await priced(
        rt, merchant, member, line, fulfillment="express", options={"echo_points": 10**9}
    )
    points = next(a for a in cart.adjustments if a.stage == "points")
    assert (points.amount, points.requested) == (-1899, -(10**9))  # what was left: 1999 - 100
    assert (cart.payable, cart.fees_total, cart.discount_total) == (800, 800, 1999)
    adds_up(cart)

    cart = await priced(rt, merchant, member, line, options={"echo_line_off": 10**6})
    assert summary(cart) == [("line", "echo", -1999, "a"), ("promotion", "echo", 0, None)]
    assert [a.requested for a in cart.adjustments] == [-(10**6), -100]
    assert (cart.lines[0].total, cart.payable) == (0, 0)
    adds_up(cart)


@pytest.mark.parametrize(
    "options",
    [
        *({"echo_bad": kind} for kind in ("float", "positive", "stage", "line", "object")),
        {"echo_pickup_fee": -5},  # a fulfillment fee below zero
    ],
)
async def test_answers_that_break_the_contract_stop_pricing(
    client: httpx.AsyncClient, rt: Runtime, options: dict[str, Any]
) -> None:
    merchant, member = await shop(client, rt, echo={})
    sku = await make_sku(rt, merchant)
    line = [ln("a", sku)]
    with pytest.raises(PricingContractError):
        await priced(rt, merchant, member, line, options=options)


# ---- loading and validation --------------------------------------------------------------


async def test_build_view_loads_lines_member_and_plugin_data(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant, member = await shop(client, rt, echo={"max_items": 4})
    await set_level(rt, merchant, member, 12)
    await set_shipping(rt, merchant, 600, 5000)
    sku = await make_sku(rt, merchant, price=300, stock=20, safety_stock=5, title="Puer")
    async with tenant_ctx(rt, merchant) as ctx:
        view = await build_view(ctx, member.id, [ln("k", sku, 2, "echo:1")])
        level = view.member.level_name, view.member.level_discount_percent
        assert (view.member.id, *level) == (member.id, "Gold", 12)
        line = view.lines[0]
        assert (line.title, line.sku_label, line.image) == ("Puer", "tin / 250g", IMAGE)
        # echo's load_cart_data opted its line out of the level discount
        stock = line.sellable, line.on_shelf, line.level_discount
        assert (line.unit_price, *stock) == (300, 15, True, False)
        core = view.plugin_data["core"]
        assert (core.shipping_fee, core.free_shipping_threshold) == (600, 5000)
        assert "echo" in core.enabled_plugins
        assert view.plugin_data["echo"].max_items == 4
        first = price(ctx.hooks, view)
        assert price(ctx.hooks, view) == first  # pricing again starts afresh


async def test_bad_pricing_input_is_a_clear_4xx(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant, member = await shop(client, rt)
    sku = await make_sku(rt, merchant)
    cases: list[tuple[str, list[LineInput], str]] = [
        (member.id, [ln("a", sku, 0)], "cart.invalid_quantity"),
        (member.id, [ln("a", sku, -2)], "cart.invalid_quantity"),
        (member.id, [ln("a", sku), ln("a", sku)], "cart.duplicate_line"),
        ("0" * 26, [ln("a", sku)], "member.not_found"),
    ]
    for member_id, lines, code in cases:
        async with tenant_ctx(rt, merchant) as ctx:
            with pytest.raises(AppError) as caught:
                await build_view(ctx, member_id, lines)
        assert caught.value.code == code
        assert 400 <= caught.value.status < 500


async def test_validate_cart_line_problems(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant, member = await shop(client, rt, echo={"max_items": 2})
    other, _ = await shop(client, rt)
    foreign = await make_sku(rt, other)
    off_shelf = await make_sku(rt, merchant, on_shelf=False)
    inactive = await make_sku(rt, merchant, active=False)
    guarded = await make_sku(rt, merchant, stock=10, safety_stock=8)  # 2 sellable
    plenty = await make_sku(rt, merchant, stock=5000)
    lines = [
        ln("off", off_shelf),
        ln("inactive", inactive),
        ln("ok", guarded, 2),
        ln("short", guarded, 3),
        ln("huge", plenty, 1000),
        ln("unknown", "0" * 26),
        ln("foreign", foreign),
        ln("echo", plenty, 3, "echo:x"),
        ln("gone", plenty, 1, "flashsale:9"),
    ]
    async with tenant_ctx(rt, merchant) as ctx:
        view = await build_view(ctx, member.id, lines)
        problems = validate(ctx.hooks, view)
        cart = price(ctx.hooks, view)
    assert {line.key for line in view.lines} == {x.key for x in lines} - {"unknown", "foreign"}
    assert sorted((p.line_key, p.code) for p in problems) == [
        ("echo", "echo.limit_exceeded"),
        ("foreign", "cart.unknown_sku"),
        ("gone", "cart.activity_unavailable"),
        ("huge", "cart.limit_exceeded"),
        ("inactive", "cart.off_shelf"),
        ("off", "cart.off_shelf"),
        ("short", "cart.insufficient_stock"),
        ("unknown", "cart.unknown_sku"),
    ]
    assert sorted((p.line_key, p.code) for p in cart.problems) == sorted(
        (p.line_key, p.code) for p in problems
    )
    assert cart.ok is False
    assert {line.key: [p.code for p in line.problems] for line in cart.lines}["ok"] == []
