"""Plugins' parts in the store's figures, from real flows: a share coupon claimed by a friend
and used on a paid order counts as the share coupon's (and the coupon's) GMV today."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from storeplug.testing import FakeWeChat
from tests.sharecoupon.support import (
    COUPON_OFF,
    PRICE,
    claim,
    paid_order,
    people,
    share_store,
    shared_pack,
)


async def test_share_coupon_orders_are_the_plugins(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat
) -> None:
    store = await share_store(client, rt, fake_wechat)
    sharer, friend = await people(rt, store, 2)
    _, token = await shared_pack(client, store, sharer, await paid_order(client, store, sharer))
    claimed = await claim(client, store, friend, token)
    assert claimed.status_code == 201, claimed.text
    await paid_order(client, store, friend, coupon_id=claimed.json()["coupon_id"])

    m = store.merchant
    sources = await client.get(f"{m.merchant}/analytics/sources", headers=m.auth)
    assert sources.status_code == 200, sources.text
    rows = {row["source"]: row for row in sources.json()}
    paid = PRICE - COUPON_OFF
    share = rows["sharecoupon"]
    assert (share["label"], share["orders"], share["gmv"], share["benefit"]) == (
        "社交立减金",
        1,
        paid,
        COUPON_OFF,
    )
    assert (rows["coupon"]["orders"], rows["coupon"]["benefit"]) == (1, COUPON_OFF)
    assert (rows["direct"]["orders"], rows["direct"]["gmv"]) == (1, PRICE)  # the sharer's
    totals = (await client.get(f"{m.merchant}/analytics/dashboard", headers=m.auth)).json()
    assert totals["totals"]["gmv"] == PRICE + paid
