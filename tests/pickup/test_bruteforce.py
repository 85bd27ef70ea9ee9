"""Guessing codes: wrong codes count per staff member and per point, and at the limit the
counter answers 429 ``pickup.locked``, the right code included."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from plugins.pickup.codes import STAFF_FAILURE_LIMIT, code_from_qr, qr_payload
from storeplug.testing import make_member, new_staff, problem
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
    verify,
)


async def test_thirty_wrong_codes_lock_the_staff_member(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await pickup_store(client)
    await use_sandbox(client, merchant)
    guesser, colleague = await new_staff(client, merchant), await new_staff(client, merchant)
    point = await make_point(client, merchant, "店", *HERE, staff_ids=[guesser.id, colleague.id])
    sku = await make_sku(rt, merchant)
    buyer = await make_member(rt, merchant)
    slot = await first_slot(client, merchant, point["id"])
    order_id = await placed_and_paid(
        client, merchant, buyer, pickup_body(sku.id, point["id"], slot)
    )
    code = (await ticket(client, merchant, buyer, order_id))["code"]
    wrong = f"{(int(code) + 1) % 10**8:08d}"

    assert STAFF_FAILURE_LIMIT == 30
    for _ in range(STAFF_FAILURE_LIMIT):
        answer = await verify(client, merchant, guesser, point["id"], code=wrong)
        problem(answer, 404, "pickup.code_invalid")
    locked = await verify(client, merchant, guesser, point["id"], code=wrong)
    body = problem(locked, 429, "pickup.locked")
    assert int(locked.headers["Retry-After"]) > 0 and body["detail"]
    # Locked means locked: the right code is refused too, and the order stays waiting.
    problem(await verify(client, merchant, guesser, point["id"], code=code), 429, "pickup.locked")
    assert (await order_row(rt, merchant, order_id)).status == "awaiting_pickup"
    # The lock is the guesser's: a colleague at the same point still verifies.
    done = await verify(client, merchant, colleague, point["id"], code=code)
    assert done.status_code == 200, done.text
    assert (await order_row(rt, merchant, order_id)).status == "completed"


async def test_hostile_codes_and_qr_payloads(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await pickup_store(client)
    await use_sandbox(client, merchant)
    clerk = await new_staff(client, merchant)
    point = await make_point(client, merchant, "店", *HERE, staff_ids=[clerk.id])
    sku = await make_sku(rt, merchant)
    buyer = await make_member(rt, merchant)
    slot = await first_slot(client, merchant, point["id"])
    order_id = await placed_and_paid(
        client, merchant, buyer, pickup_body(sku.id, point["id"], slot)
    )
    real = await ticket(client, merchant, buyer, order_id)
    code = real["code"]
    secret = rt.settings.secret_key

    forged = f"SPK1.{order_id}.{code}.{'0' * 32}"
    other_tenant = qr_payload(secret, "01OTHERTENANT0000000000000", order_id, code)
    for body in (
        {"qr": forged},
        {"qr": other_tenant},
        {"qr": "not a qr"},
        {"code": "' OR 1=1 --"},
        {"code": f" {code}"},
    ):
        problem(
            await verify(client, merchant, clerk, point["id"], **body), 404, "pickup.code_invalid"
        )
    problem(await verify(client, merchant, clerk, point["id"]), 422, "pickup.code_required")
    both = await verify(client, merchant, clerk, point["id"], code=code, qr=real["qr"])
    problem(both, 422, "pickup.code_required")
    too_long = await verify(client, merchant, clerk, point["id"], code="1" * 33)
    assert too_long.status_code == 400, too_long.text
    # A member's token is no staff session.
    as_member = await client.post(
        f"{merchant.merchant}/pickup/points/{point['id']}/verify",
        json={"code": code},
        headers=buyer.auth,
    )
    assert as_member.status_code == 401, as_member.text
    assert code_from_qr(secret, merchant.id, real["qr"]) == code
    # Another member cannot see this member's code.
    stranger = await make_member(rt, merchant)
    other = await client.get(f"{merchant.store}/pickup/orders/{order_id}", headers=stranger.auth)
    problem(other, 404, "pickup.order_not_found")
    assert (await order_row(rt, merchant, order_id)).status == "awaiting_pickup"
