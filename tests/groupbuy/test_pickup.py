"""Group-buy orders picked up in store: the pickup code is issued only when the team has
succeeded, for every member at once."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from tests.commerce.orders_support import order_row
from tests.groupbuy.support import group_store, join_team, open_team, pay_sandbox, placed
from tests.pickup.support import first_slot, make_point, pickup_row, ticket


async def test_pickup_codes_wait_for_the_team(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    store = await group_store(client, rt, members=2, team_size=2, plugins=("groupbuy", "pickup"))
    leader, second = store.buyers
    merchant = store.merchant
    point = await make_point(client, merchant, "南山店", 22.54, 113.93)
    slot = await first_slot(client, merchant, point["id"])
    pickup = {"fulfillment": "pickup", "fulfillment_data": {"point_id": point["id"], "slot": slot}}

    opened = await placed(await open_team(client, store, leader, **pickup))
    await pay_sandbox(client, store, leader, opened["order_id"])
    # Paid, but the team is forming: no code, and the order stays paid.
    assert (await order_row(rt, merchant, opened["order_id"])).status == "paid"
    assert (await pickup_row(rt, merchant, opened["order_id"])).status == "pending"

    joined = await placed(await join_team(client, store, second, opened["team_id"], **pickup))
    await pay_sandbox(client, store, second, joined["order_id"])
    for buyer, order_id in ((leader, opened["order_id"]), (second, joined["order_id"])):
        row = await order_row(rt, merchant, order_id)
        assert (row.status, row.fulfillment_hold) == ("awaiting_pickup", "")
        assert (await pickup_row(rt, merchant, order_id)).status == "open"
        shown = await ticket(client, merchant, buyer, order_id)
        assert len(shown["code"]) == 8
