"""The stamp card end to end, over real HTTP on both backends: paid orders earn stamps and a
full card its coupon, refunds take back a stamp, clerks stamp at the counter once per key,
concurrent stamps fill a card exactly once, and a refused reward is issued once restocked."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import httpx
from core.coupons.models import MemberCoupon
from core.runtime import Runtime
from core.settings import Settings
from sqlalchemy import select
from storeplug.testing import (
    ConsoleClient,
    Merchant,
    Shopper,
    Staff,
    make_member,
    migration_drift,
    onboard,
    problem,
)
from storeplug.testing.commerce import make_sku, paid_order, refund_directly, settled
from storeplug.testing.console import untranslated

import storeplug_stampcard
from storeplug_stampcard import jobs, service

PACKAGE = Path(storeplug_stampcard.__file__).parent


async def configure(client: httpx.AsyncClient, merchant: Merchant, **settings: Any) -> None:
    saved = await client.put(
        f"{merchant.merchant}/plugins/stampcard/settings",
        json={"settings": settings},
        headers=merchant.auth,
    )
    assert saved.status_code == 200, saved.text


async def reward_template(client: httpx.AsyncClient, merchant: Merchant, stock: int) -> str:
    """A coupon members cannot claim themselves: only a full card gives it."""
    made = await client.post(
        f"{merchant.merchant}/coupons/templates",
        json={
            "name": "A free drink",
            "kind": "fixed",
            "amount": 1500,
            "valid_days": 30,
            "claimable": False,
            "total_stock": stock,
        },
        headers=merchant.auth,
    )
    assert made.status_code == 201, made.text
    template_id: str = made.json()["id"]
    return template_id


async def my_card(client: httpx.AsyncClient, merchant: Merchant, member: Shopper) -> Any:
    response = await client.get(f"{merchant.store}/stampcard/card", headers=member.auth)
    assert response.status_code == 200, response.text
    return response.json()


async def coupons_of(rt: Runtime, merchant: Merchant, member: Shopper) -> list[MemberCoupon]:
    async with rt.db.tenant_session(merchant.id) as session:
        rows = await session.scalars(
            select(MemberCoupon).where(MemberCoupon.member_id == member.id)
        )
        return list(rows.all())


async def counter_stamp(
    client: httpx.AsyncClient, merchant: Merchant, staff: Staff, member_id: str, key: str = ""
) -> httpx.Response:
    return await client.post(
        f"{merchant.merchant}/stampcard/members/{member_id}/stamps",
        headers={**staff.auth, "Idempotency-Key": key or secrets.token_hex(8)},
    )


async def test_paid_orders_fill_a_card_and_earn_its_coupon(
    client: httpx.AsyncClient, rt: Runtime, merchant: Merchant, member: Shopper
) -> None:
    template = await reward_template(client, merchant, stock=10)
    await configure(client, merchant, stamps_needed=3, reward_template_id=template)
    tea = await make_sku(rt, merchant, price=1800, stock=20)
    assert (await my_card(client, merchant, member))["current"] is None
    for _ in range(3):
        await paid_order(client, rt, merchant, member, [(tea, 1)])
    card = await my_card(client, merchant, member)
    assert card["current"] is None and card["cards_filled"] == 1
    [coupon] = await coupons_of(rt, merchant, member)
    assert coupon.template_id == template and coupon.source == "stampcard"
    # The next order starts the second card.
    await paid_order(client, rt, merchant, member, [(tea, 1)])
    card = await my_card(client, merchant, member)
    assert (card["current"]["number"], card["current"]["stamps"]) == (2, 1)
    assert card["cards_filled"] == 1 and len(await coupons_of(rt, merchant, member)) == 1


async def test_an_order_below_the_minimum_earns_nothing(
    client: httpx.AsyncClient, rt: Runtime, merchant: Merchant, member: Shopper
) -> None:
    await configure(client, merchant, min_order_fen=2000)
    small = await make_sku(rt, merchant, price=1990)
    await paid_order(client, rt, merchant, member, [(small, 1)])
    assert (await my_card(client, merchant, member))["current"] is None
    await paid_order(client, rt, merchant, member, [(small, 2)])
    assert (await my_card(client, merchant, member))["current"]["stamps"] == 1


async def test_a_refunded_order_gives_its_stamp_back(
    client: httpx.AsyncClient, rt: Runtime, merchant: Merchant, member: Shopper, worker: None
) -> None:
    tea = await make_sku(rt, merchant, price=1800)
    kept = await paid_order(client, rt, merchant, member, [(tea, 1)])
    refunded = await paid_order(client, rt, merchant, member, [(tea, 1)])
    assert (await my_card(client, merchant, member))["current"]["stamps"] == 2
    made = await refund_directly(client, merchant, refunded["id"], {"reason": "不想要了"})
    assert made.status_code == 201, made.text
    await settled(client, rt, merchant, made.json()["id"], "succeeded")
    assert (await my_card(client, merchant, member))["current"]["stamps"] == 1
    assert kept["status"] == "paid"


async def test_a_repeated_payment_report_stamps_once(rt: Runtime, merchant: Merchant) -> None:
    member = await make_member(rt, merchant)
    tenant = await rt.tenants.by_id(merchant.id)
    assert tenant is not None
    async with rt.tenant_context(tenant) as ctx:
        first = await service.stamp(ctx, member.id, "order", "01ORDER0000000000000000000")
        again = await service.stamp(ctx, member.id, "order", "01ORDER0000000000000000000")
    assert first is not None and first[0].stamps == 1
    assert again is None


async def test_a_clerk_stamps_at_the_counter_once_per_key(
    client: httpx.AsyncClient, merchant: Merchant, member: Shopper, staff: Staff
) -> None:
    first = await counter_stamp(client, merchant, staff, member.id, key="tap-1")
    assert first.status_code == 201, first.text
    assert (first.json()["card"]["stamps"], first.json()["filled"]) == (1, False)
    replay = await counter_stamp(client, merchant, staff, member.id, key="tap-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert (await my_card(client, merchant, member))["current"]["stamps"] == 1
    no_key = await client.post(
        f"{merchant.merchant}/stampcard/members/{member.id}/stamps", headers=staff.auth
    )
    problem(no_key, 400, "idempotency.key_required")
    stranger = await client.post(f"{merchant.merchant}/stampcard/members/{member.id}/stamps")
    problem(stranger, 401, "auth.required")


async def test_another_stores_member_is_not_found(
    client: httpx.AsyncClient, rt: Runtime, merchant: Merchant, staff: Staff
) -> None:
    other = await onboard(client, plan=merchant.plan, plugins=("stampcard",))
    theirs = await make_member(rt, other)
    problem(await counter_stamp(client, merchant, staff, theirs.id), 404, "member.not_found")
    cards = await client.get(
        f"{merchant.merchant}/stampcard/members/{theirs.id}/cards", headers=staff.auth
    )
    problem(cards, 404, "member.not_found")


async def test_concurrent_stamps_fill_a_card_exactly_once(
    client: httpx.AsyncClient, rt: Runtime, merchant: Merchant, member: Shopper, staff: Staff
) -> None:
    template = await reward_template(client, merchant, stock=10)
    await configure(client, merchant, stamps_needed=3, reward_template_id=template)
    answers = await asyncio.gather(
        *(counter_stamp(client, merchant, staff, member.id) for _ in range(5))
    )
    assert [a.status_code for a in answers] == [201] * 5, [a.text for a in answers]
    assert sum(a.json()["filled"] for a in answers) == 1
    cards = await client.get(
        f"{merchant.merchant}/stampcard/members/{member.id}/cards", headers=staff.auth
    )
    assert [(c["number"], c["stamps"], c["status"]) for c in cards.json()] == [
        (1, 3, "full"),
        (2, 2, "open"),
    ]
    assert len(await coupons_of(rt, merchant, member)) == 1


async def test_a_sold_out_reward_is_issued_once_restocked(
    client: httpx.AsyncClient, rt: Runtime, merchant: Merchant, staff: Staff
) -> None:
    template = await reward_template(client, merchant, stock=1)
    await configure(client, merchant, stamps_needed=2, reward_template_id=template)
    first, second = await make_member(rt, merchant), await make_member(rt, merchant)
    for buyer in (first, first, second, second):
        assert (await counter_stamp(client, merchant, staff, buyer.id)).status_code == 201
    cards = await client.get(
        f"{merchant.merchant}/stampcard/members/{second.id}/cards", headers=staff.auth
    )
    [card] = cards.json()
    assert (card["status"], card["coupon_id"], card["reward_error"]) == (
        "full",
        None,
        "coupon.sold_out",
    )
    assert await jobs.retry_rewards(rt) == 0  # still sold out: nothing changes
    restocked = await client.patch(
        f"{merchant.merchant}/coupons/templates/{template}",
        json={"total_stock": 2},
        headers=merchant.auth,
    )
    assert restocked.status_code == 200, restocked.text
    assert await jobs.retry_rewards(rt) >= 1
    assert [c.template_id for c in await coupons_of(rt, merchant, second)] == [template]
    assert await jobs.retry_rewards(rt) == 0  # rewarded once


async def test_a_store_with_the_plugin_off_answers_plugin_disabled(
    client: httpx.AsyncClient, merchant: Merchant, member: Shopper
) -> None:
    off = await client.post(f"{merchant.merchant}/plugins/stampcard/disable", headers=merchant.auth)
    assert off.status_code == 200, off.text
    response = await client.get(f"{merchant.store}/stampcard/card", headers=member.auth)
    problem(response, 404, "plugin.disabled")


async def test_the_console_page_shows_the_rule_and_the_full_cards(
    client: httpx.AsyncClient,
    merchant: Merchant,
    member: Shopper,
    staff: Staff,
    owner_console: ConsoleClient,
) -> None:
    await configure(client, merchant, stamps_needed=2)
    empty = await owner_console.get("stampcard")
    assert empty.status_code == 200, empty.text
    assert 'data-testid="no-cards"' in empty.text
    for _ in range(2):
        assert (await counter_stamp(client, merchant, staff, member.id)).status_code == 201
    shown = (await owner_console.get("stampcard")).text
    assert "#1 · 2/2" in shown and "集满 2 个章即为一张满卡。" in shown


async def test_the_migration_matches_the_models(settings: Settings, rt: Runtime) -> None:
    assert await migration_drift(settings) == []


def test_every_console_string_has_a_chinese_translation() -> None:
    assert untranslated(PACKAGE) == []
