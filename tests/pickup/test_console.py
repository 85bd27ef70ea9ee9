"""The pickup console pages over real HTTP: a clerk of the point verifies a code once, a
wrong code shows beside the box and changes nothing, another clerk cannot verify there."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from storeplug.testing import LiveServer, make_member, new_staff
from tests.commerce.orders_support import make_sku, order_row
from tests.commerce.payments_support import use_sandbox
from tests.pickup.support import (
    HERE,
    first_slot,
    make_point,
    pickup_body,
    pickup_store,
    placed_and_paid,
    ticket,
)


async def test_a_clerk_verifies_a_code_at_the_counter_once(
    client: httpx.AsyncClient, rt: Runtime, server: LiveServer, worker: None
) -> None:
    from storeplug.testing.console import signed_in

    merchant = await pickup_store(client)
    await use_sandbox(client, merchant)
    clerk, other = await new_staff(client, merchant), await new_staff(client, merchant)
    point = await make_point(client, merchant, "科技园店", *HERE, staff_ids=[clerk.id])
    sku = await make_sku(rt, merchant, price=1990)
    buyer = await make_member(rt, merchant)
    slot = await first_slot(client, merchant, point["id"])
    order_id = await placed_and_paid(
        client, merchant, buyer, pickup_body(sku.id, point["id"], slot)
    )
    code = (await ticket(client, merchant, buyer, order_id))["code"]
    wrong = "0" * 8 if code != "0" * 8 else "1" * 8

    async with signed_in(server.url, merchant, other.username, other.password) as stranger:
        refused = await stranger.post(f"pickup/{point['id']}/verify", {"code": code})
        assert refused.status_code == 403
        assert "不是该自提点的店员" in refused.text

    async with signed_in(server.url, merchant, clerk.username, clerk.password) as console:
        listed = await console.get("pickup")
        assert listed.status_code == 200 and f'data-testid="verify-{point["id"]}"' in listed.text
        bad = await console.post(f"pickup/{point['id']}/verify", {"code": wrong})
        assert bad.status_code == 404
        assert 'data-testid="error-code"' in bad.text and "核销码无效" in bad.text
        assert (await order_row(rt, merchant, order_id)).status == "awaiting_pickup"

        done = await console.post(f"pickup/{point['id']}/verify", {"code": f" {code} "})
        assert done.status_code == 200, done.text
        assert 'data-testid="verified"' in done.text
        assert (await order_row(rt, merchant, order_id)).status == "completed"

        again = await console.post(f"pickup/{point['id']}/verify", {"code": code})
        assert again.status_code == 404 and 'data-testid="error-code"' in again.text
