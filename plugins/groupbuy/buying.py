"""``POST /store/{tenant}/v1/groupbuy/activities/{id}/open`` and ``.../teams/{id}/join``:
from a tap to a group-buy order awaiting payment.

Both place an ordinary order through the core (one line at the group price, the SKU's stock
reserved, coupons and fulfillment as usual) inside ``run_idempotent``, with an ``Intent`` in
``ctx.extras`` that the plugin's hooks act on: opening creates the team (it forms when this
order is paid), joining holds a place in the team by a conditional UPDATE. The order's
payment window ends before the team's expiry.
"""

from __future__ import annotations

from typing import Any

from litestar import Response

from core.admission import gate
from core.context import Principal, TenantContext, TenantInfo
from core.idempotency import run_idempotent
from core.orders import placement
from core.orders import schemas as orders
from core.runtime import Runtime
from plugins.groupbuy import schemas as s
from plugins.groupbuy import teams
from plugins.groupbuy.hooks import EXTRA, Intent
from plugins.groupbuy.rules import PREFIX, get_activity

ADMISSION = 8  # joins of one team placing orders at a time, per process


async def _place(tx: TenantContext, data: s.BuyIn, intent: Intent) -> s.BuyOut:
    tx.extras[EXTRA] = intent
    order = await placement.place_order(
        tx,
        orders.PlaceOrderIn(
            items=[
                orders.OrderItemIn(
                    sku_id=data.sku_id,
                    quantity=data.quantity,
                    activity=PREFIX + intent.activity_id,
                )
            ],
            fulfillment=data.fulfillment,
            fulfillment_data=data.fulfillment_data,
            note=data.note,
            options=data.options,
        ),
    )
    assert intent.team is not None  # opened or joined by order_before_place
    return s.BuyOut(
        status=order.status,
        order_id=order.id,
        number=order.number,
        team_id=intent.team.id,
        activity_id=intent.activity_id,
        sku_id=data.sku_id,
        quantity=data.quantity,
        payable=order.payable,
        payment_deadline=order.payment_deadline,
    )


async def open_team(
    rt: Runtime,
    tenant: TenantInfo,
    member: Principal,
    activity_id: str,
    data: s.BuyIn,
    key: str | None,
) -> Response[Any]:
    async def work(tx: TenantContext) -> s.BuyOut:
        # An unknown activity (another store's included) is a 404 before the core checks the
        # order's body (the address, the fulfillment).
        await get_activity(tx, activity_id)
        intent = Intent(activity_id=activity_id, sku_id=data.sku_id, quantity=data.quantity)
        return await _place(tx, data, intent)

    route = f"POST /groupbuy/activities/{activity_id}/open"
    return await run_idempotent(rt, tenant, member, route, key, data, work, status_code=201)


async def join_team(
    rt: Runtime,
    tenant: TenantInfo,
    member: Principal,
    team_id: str,
    data: s.BuyIn,
    key: str | None,
) -> Response[Any]:
    async def work(tx: TenantContext) -> s.BuyOut:
        team = await teams.joinable_team(tx, team_id, member.id)
        intent = Intent(
            activity_id=team.activity_id, sku_id=data.sku_id, quantity=data.quantity, team=team
        )
        return await _place(tx, data, intent)

    route = f"POST /groupbuy/teams/{team_id}/join"
    # A shared link gone viral: a few joins of one team place orders at a time per process;
    # once the team is full, the rest learn it from one read (``joinable_team``).
    async with gate(("groupbuy", tenant.id, team_id), ADMISSION):
        return await run_idempotent(rt, tenant, member, route, key, data, work, status_code=201)
