"""The coupon stage of the pricing pipeline: the coupon math on its own (split, labels,
caps, the best pick), then over HTTP through the cart preview — the best or the chosen
coupon, scopes, the promoted price, free shipping, and a chosen coupon that cannot be used."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.cart.defaults import CoreCartData
from core.commerce import CartView, MemberView, PricingLine
from core.coupons.pricing import (
    CouponsData,
    CouponTerms,
    best,
    choice_problem,
    coupon_stage,
    decide,
    discount,
    label,
    split,
)
from core.runtime import Runtime
from storeplug.testing import make_member, problem
from tests.commerce.coupons_support import (
    categorise,
    claimed,
    coupon_parts,
    expire,
    preview,
)
from tests.commerce.orders_support import (
    add_to_cart,
    direct,
    make_address,
    make_sku,
    new_shop,
    place,
    set_store,
)
from tests.commerce.test_pricing import set_level

SOON = datetime(2030, 1, 1, tzinfo=UTC)


# ---- the math, without a database ---------------------------------------------------------


def terms(coupon_id: str, kind: str = "fixed", **fields: object) -> CouponTerms:
    values: dict[str, object] = {"valid_until": SOON, **fields}
    return CouponTerms(
        id=coupon_id,
        template_id="T",
        name=coupon_id,
        kind=kind,
        **values,  # type: ignore[arg-type]
    )


def cart(*totals: int, coupons: tuple[CouponTerms, ...] = (), **options: object) -> CartView:
    lines = [
        PricingLine(
            key=f"l{i}",
            sku_id=f"s{i}",
            product_id=f"p{i}",
            category_id=None,
            title="tea",
            sku_label="",
            image="",
            unit_price=total,
            quantity=1,
        )
        for i, total in enumerate(totals)
    ]
    view = CartView(tenant_id="t", member=MemberView(id="m"), lines=lines, options=dict(options))
    view.plugin_data["coupons"] = CouponsData(coupons=coupons)
    view.plugin_data["core"] = CoreCartData(shipping_fee=800)
    return view


def test_split_is_proportional_and_exact() -> None:
    assert split(100, [("a", 1000), ("b", 2000), ("c", 3000)]) == [
        ("a", 17),  # 16.67: the largest remainder takes the leftover fen
        ("b", 33),
        ("c", 50),
    ]
    assert split(0, [("a", 10)]) == []
    assert split(5, [("a", 0)]) == []
    rng = random.Random(7)
    for _ in range(500):
        weights = [(str(i), rng.randint(0, 10_000)) for i in range(rng.randint(1, 8))]
        whole = sum(w for _, w in weights)
        total = rng.randint(0, whole) if whole else 0
        parts = split(total, weights)
        if whole and total:
            assert sum(part for _, part in parts) == total
        for (key, part), (same, weight) in zip(parts, weights, strict=True):
            assert key == same and 0 <= part <= weight


def test_labels() -> None:
    assert label("threshold", 2000, 0, 10000) == "满100减20"
    assert label("threshold", 550, 0, 9990) == "满99.9减5.5"
    assert label("percent", 0, 15, 0) == "8.5折"
    assert label("percent", 0, 20, 0) == "8折"
    assert label("fixed", 500, 0, 0) == "立减5元"
    assert label("fixed", 505, 0, 0) == "立减5.05元"
    assert label("free_shipping", 0, 0, 0) == "免运费"


def test_discounts_round_down_and_are_capped() -> None:
    assert discount(terms("p", "percent", percent_off=15), 1999) == 299  # 299.85 floored
    assert discount(terms("p", "percent", percent_off=15, max_discount=100), 1999) == 100
    assert discount(terms("f", amount=5000), 1200) == 1200  # never more than the items
    assert discount(terms("t", "threshold", amount=2000, min_spend=10000), 12000) == 2000


def picked(view: CartView) -> str | None:
    coupon = decide(view)
    return None if coupon is None else coupon.id


def test_best_is_the_largest_saving_then_the_earliest_expiry_then_the_id() -> None:
    early = SOON - timedelta(days=1)
    coupons = (
        terms("B", amount=300),
        terms("A", amount=300),
        terms("C", amount=300, valid_until=early),
        terms("D", amount=200, valid_until=early - timedelta(days=1)),
        terms("E", "threshold", amount=5000, min_spend=99999),  # not reached: saves nothing
    )
    assert picked(cart(1000, coupons=coupons)) == "C"
    assert picked(cart(1000, coupons=coupons[:2])) == "A"
    assert best(coupons[4:], cart(1000)) is None
    # Free shipping is weighed by the express fee it would waive (800 here), known before
    # the fees stage; with no delivery chosen it saves nothing yet.
    both = (terms("F", "free_shipping"), terms("A", amount=300))
    assert picked(cart(1000, coupons=both)) == "A"
    with_express = cart(1000, coupons=both)
    with_express.fulfillment = "express"
    assert picked(with_express) == "F"
    assert coupon_stage(with_express) == []  # its saving comes in the fees stage


def test_the_choice_in_options() -> None:
    coupons = (terms("A", amount=300), terms("B", amount=100))
    assert picked(cart(1000, coupons=coupons)) == "A"
    assert picked(cart(1000, coupons=coupons, coupon_id="")) == "A"
    assert picked(cart(1000, coupons=coupons, coupon_id=None)) == "A"
    assert picked(cart(1000, coupons=coupons, coupon_id="B")) == "B"
    assert picked(cart(1000, coupons=coupons, coupon_id="none")) is None
    for bad in ("nope", 42, ["A"]):
        view = cart(1000, coupons=coupons, coupon_id=bad)
        assert picked(view) is None
        found = choice_problem(view)
        assert found is not None and found.code == "coupon.unavailable" and found.line_key == ""
    assert choice_problem(cart(1000, coupons=coupons, coupon_id="B")) is None
    assert choice_problem(cart(1000, coupons=coupons, coupon_id="none")) is None


# ---- over HTTP: the cart preview ----------------------------------------------------------


async def test_preview_uses_the_best_or_the_chosen_coupon(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    shop = await new_shop(client, rt)
    m, buyer = shop.merchant, shop.buyer
    small, large = await make_sku(rt, m, price=3000), await make_sku(rt, m, price=7000)
    a = await add_to_cart(rt, m, buyer.id, small, 1)
    b = await add_to_cart(rt, m, buyer.id, large, 1)
    fixed = await claimed(client, m, buyer, "fixed", amount=500)
    threshold = await claimed(client, m, buyer, "threshold", amount=2000, min_spend=10000)
    percent = await claimed(client, m, buyer, "percent", percent_off=15, max_discount=1000)

    auto = await preview(client, m, buyer)
    assert auto["ok"] is True
    assert coupon_parts(auto) == {a: -600, b: -1400}  # 2000 split 3:7, to the fen
    assert {x["source"] for x in auto["adjustments"]} == {f"coupon:{threshold}"}
    assert {x["label"] for x in auto["adjustments"]} == {"满100减20"}
    assert auto["payable"] == 8000
    assert auto["breakdown"] == [
        {"source": f"coupon:{threshold}", "label": "满100减20", "stage": "coupon", "amount": -2000}
    ]
    assert coupon_parts(await preview(client, m, buyer, "")) == coupon_parts(auto)

    chosen = await preview(client, m, buyer, percent)
    assert coupon_parts(chosen) == {a: -300, b: -700}  # 15% is 1500, capped at 1000
    assert {x["label"] for x in chosen["adjustments"]} == {"8.5折"}
    chosen = await preview(client, m, buyer, fixed)
    assert coupon_parts(chosen) == {a: -150, b: -350}
    assert {x["label"] for x in chosen["adjustments"]} == {"立减5元"}
    none = await preview(client, m, buyer, "none")
    assert none["adjustments"] == [] and none["payable"] == 10000

    # The cart page prices the selected lines with the best coupon too.
    page = (await client.get(f"{m.store}/cart", headers=buyer.auth)).json()
    assert coupon_parts(page["selected"]) == {a: -600, b: -1400}


async def test_a_chosen_coupon_that_cannot_be_used_is_a_problem(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    shop = await new_shop(client, rt)
    m, buyer = shop.merchant, shop.buyer
    sku = await make_sku(rt, m, price=10000)
    other_sku = await make_sku(rt, m, price=100)
    await add_to_cart(rt, m, buyer.id, sku, 1)
    stranger = await make_member(rt, m, "stranger")
    theirs = await claimed(client, m, stranger, "fixed", amount=100)
    too_high = await claimed(client, m, buyer, "threshold", amount=1000, min_spend=20000)
    elsewhere = await claimed(
        client, m, buyer, "fixed", scope="products", scope_ids=[other_sku.product_id]
    )
    expired = await claimed(client, m, buyer, "fixed", amount=100)
    await expire(rt, m, expired)

    for coupon_id, words in (
        (theirs, "not yours"),
        (too_high, "spend 100 yuan more"),
        (elsewhere, "does not cover"),
        (expired, "not valid now"),
        ("01ZZZZZZZZZZZZZZZZZZZZZZZZ", "not yours"),
    ):
        priced = await preview(client, m, buyer, coupon_id)
        assert priced["ok"] is False, coupon_id
        assert [(p["line_key"], p["code"]) for p in priced["problems"]] == [
            ("", "coupon.unavailable")
        ]
        assert words in priced["problems"][0]["message"]
        assert coupon_parts(priced) == {}

    # None of them applies on its own either: the automatic pick finds nothing, no problem.
    auto = await preview(client, m, buyer)
    assert auto["ok"] is True and coupon_parts(auto) == {}

    # Placing the order with one is refused as a whole: no order, no stock held.
    address = await make_address(rt, m, buyer.id)
    refused = await place(
        client, m, buyer, direct(sku, 1, address, options={"coupon_id": too_high})
    )
    problem(refused, 409, "coupon.unavailable")
    assert (await client.get(f"{m.store}/orders", headers=buyer.auth)).json()["items"] == []


async def test_a_coupon_works_on_the_promoted_price_of_its_scope(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    shop = await new_shop(client, rt)
    m, buyer = shop.merchant, shop.buyer
    await set_level(rt, m, buyer, 10)  # 9折 in the promotion stage, before coupons
    tea, cup = await make_sku(rt, m, price=2000), await make_sku(rt, m, price=5000)
    tea_line = await add_to_cart(rt, m, buyer.id, tea, 1)
    await add_to_cart(rt, m, buyer.id, cup, 1)
    half = await claimed(
        client, m, buyer, "percent", percent_off=50, scope="products", scope_ids=[tea.product_id]
    )
    priced = await preview(client, m, buyer)
    assert coupon_parts(priced) == {tea_line: -900}  # half of 1800, the cup untouched
    assert {x["source"] for x in priced["adjustments"] if x["stage"] == "coupon"} == {
        f"coupon:{half}"
    }

    # The minimum spend counts the promoted price of the covered lines: 1800 < 2000.
    reach = await claimed(
        client,
        m,
        buyer,
        "threshold",
        amount=1500,
        min_spend=2000,
        scope="products",
        scope_ids=[tea.product_id],
    )
    assert "spend 2 yuan more" in (await preview(client, m, buyer, reach))["problems"][0]["message"]

    # A category covers its subcategories.
    parent = await categorise(rt, m, cup.product_id)
    child = await categorise(rt, m, tea.product_id, parent=parent)
    assert child != parent
    wide = await claimed(
        client, m, buyer, "fixed", amount=100_00, scope="categories", scope_ids=[parent]
    )
    both = await preview(client, m, buyer, wide)
    assert sum(coupon_parts(both).values()) == -(1800 + 4500)  # capped by the lines' prices


async def test_a_free_shipping_coupon_waives_the_chosen_fee(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    shop = await new_shop(client, rt)
    m, buyer = shop.merchant, shop.buyer
    await set_store(rt, m, shipping_fee=800, free_shipping_threshold=None)
    sku = await make_sku(rt, m, price=3000)
    await add_to_cart(rt, m, buyer.id, sku, 1)
    free = await claimed(client, m, buyer, "free_shipping")
    fixed = await claimed(client, m, buyer, "fixed", amount=500)

    shipped = await preview(client, m, buyer)  # 800 waived beats 500 off
    assert [(x["stage"], x["source"], x["amount"]) for x in shipped["adjustments"]] == [
        ("fees", "core.shipping", 800),
        ("fees", f"coupon:{free}", -800),
    ]
    assert shipped["shipping_fee"] == 800 and shipped["payable"] == 3000
    assert [x["label"] for x in shipped["adjustments"]][1] == "免运费"

    nothing_chosen = await preview(client, m, buyer, fulfillment=None)
    assert [x["source"] for x in nothing_chosen["adjustments"]] == [f"coupon:{fixed}"]

    # At the free-shipping threshold: 5 yuan off would bring back the 8 yuan fee, so the
    # automatic pick uses no coupon; chosen, the buyer gets what they asked for.
    await set_store(rt, m, free_shipping_threshold=3000)
    assert (await preview(client, m, buyer))["adjustments"] == []
    asked = await preview(client, m, buyer, fixed)
    assert [(x["source"], x["amount"]) for x in asked["adjustments"]] == [
        (f"coupon:{fixed}", -500),
        ("core.shipping", 800),
    ]
    chosen = await preview(client, m, buyer, free)  # chosen, but nothing to waive
    assert chosen["ok"] is True and chosen["adjustments"] == []
    await set_store(rt, m, free_shipping_threshold=2000)  # 5 yuan off still ships free
    assert coupon_parts(await preview(client, m, buyer)) == {asked["lines"][0]["key"]: -500}


@pytest.mark.parametrize("coupon", [terms("A", amount=300), terms("B", "percent", percent_off=10)])
def test_a_coupon_that_saves_nothing_is_not_applied(coupon: CouponTerms) -> None:
    assert picked(cart(0, coupons=(coupon,))) is None
    assert coupon_stage(cart(0, coupons=(coupon,), coupon_id=coupon.id)) == []
