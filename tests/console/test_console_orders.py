"""The orders and after-sales pages over real HTTP: filters and paging, shipping, cancelling,
refunding through the confirmation step (once, however often it is sent), and the members'
refund requests approved or rejected, each with the roles of the JSON API."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
from sqlalchemy import update

from core.analytics.sales import china_today
from core.members.models import Member
from core.runtime import Runtime
from storeplug.testing import LiveServer
from storeplug.testing.console import signed_in, staff_login
from tests.commerce.orders_support import direct, make_address, make_sku, new_shop, place
from tests.commerce.refunds_support import ask_refund, line_of, paid_order, refunds_of, settled


def numbers_in(html: str) -> list[str]:
    """The order numbers a list page shows, in its order."""
    return re.findall(r'data-testid="order-(\d+)"', html)


async def test_the_order_list_filters_by_status_number_phone_and_day_and_pages(
    client: httpx.AsyncClient, rt: Runtime, server: LiveServer
) -> None:
    shop = await new_shop(client, rt)
    sku = await make_sku(rt, shop.merchant, price=1200, stock=20)
    first = await paid_order(client, rt, shop, [(sku, 1)])
    second = await paid_order(client, rt, shop, [(sku, 2)])
    address = await make_address(rt, shop.merchant, shop.buyer.id)
    unpaid = await place(client, shop.merchant, shop.buyer, direct(sku, 1, address))
    assert unpaid.status_code == 201, unpaid.text
    async with rt.db.tenant_session(shop.merchant.id) as session:
        await session.execute(
            update(Member).where(Member.id == shop.buyer.id).values(phone="13912345678")
        )

    async with signed_in(server.url, shop.merchant) as console:
        every = await console.get("orders")
        assert every.status_code == 200, every.text
        numbers = numbers_in(every.text)
        assert numbers == [unpaid.json()["number"], second["number"], first["number"]]

        paid = await console.get("orders?status=paid")
        assert numbers_in(paid.text) == [
            second["number"],
            first["number"],
        ]
        one = await console.get(f"orders?number={first['number']}")
        assert numbers_in(one.text) == [first["number"]]
        by_phone = await console.get("orders?phone=13912345678&status=pending_payment")
        assert numbers_in(by_phone.text) == [unpaid.json()["number"]]
        nobody = await console.get("orders?phone=13000000000")
        assert not numbers_in(nobody.text)

        today = china_today()
        on_the_day = await console.get(f"orders?date_from={today}&date_to={today}")
        assert len(numbers_in(on_the_day.text)) == 3
        yesterday = today - timedelta(days=1)
        before = await console.get(f"orders?date_to={yesterday}")
        assert not numbers_in(before.text)

        bad = await console.get("orders?date_from=18/06/2024&status=lost")
        assert bad.status_code == 422
        assert 'data-testid="error-date_from"' in bad.text
        assert 'data-testid="error-status"' in bad.text

        # One a page: the next page keeps the filter.
        page_one = await console.get("orders?status=paid&limit=1")
        assert numbers_in(page_one.text) == [second["number"]]
        link = re.search(r'href="([^"]+)" data-testid="next-page"', page_one.text)
        assert link is not None
        assert "status=paid" in link.group(1)
        page_two = await console.http.get(link.group(1).replace("&amp;", "&"))
        assert numbers_in(page_two.text) == [first["number"]]
        assert 'data-testid="next-page"' not in page_two.text
        assert 'data-testid="first-page"' in page_two.text

    # The JSON API filters by the phone with the same function.
    api = await client.get(
        f"{shop.merchant.merchant}/orders/?member_phone=13912345678&status=paid",
        headers=shop.merchant.auth,
    )
    assert [o["number"] for o in api.json()["items"]] == [second["number"], first["number"]]


async def test_a_clerk_ships_and_a_bad_tracking_number_changes_nothing(
    client: httpx.AsyncClient, rt: Runtime, server: LiveServer
) -> None:
    shop = await new_shop(client, rt)
    sku = await make_sku(rt, shop.merchant, price=1500)
    order = await paid_order(client, rt, shop, [(sku, 1)])
    username, password = await staff_login(client, shop.merchant, "clerk")
    async with signed_in(server.url, shop.merchant, username, password) as clerk:
        detail = await clerk.get(f"orders/{order['id']}")
        assert detail.status_code == 200, detail.text
        assert 'data-testid="ship-form"' in detail.text
        assert 'data-testid="refund-form"' not in detail.text  # managers refund
        assert 'data-testid="cancel-form"' not in detail.text

        bad = await clerk.post(
            f"orders/{order['id']}/ship", {"carrier": "", "tracking_no": "SF 12 ?"}
        )
        assert bad.status_code == 422
        assert 'data-testid="error-carrier"' in bad.text
        assert 'data-testid="error-tracking_no"' in bad.text
        unchanged = await client.get(
            f"{shop.merchant.merchant}/orders/{order['id']}", headers=shop.merchant.auth
        )
        assert unchanged.json()["status"] == "paid"

        shipped = await clerk.post(
            f"orders/{order['id']}/ship", {"carrier": "顺丰速运", "tracking_no": "SF1234567890"}
        )
        assert shipped.status_code == 303, shipped.text
        assert shipped.headers["location"].endswith(f"/orders/{order['id']}?done=shipped")
        after = await clerk.get(f"orders/{order['id']}?done=shipped")
        assert 'data-testid="notice"' in after.text
        assert "顺丰速运 · SF1234567890" in after.text
        assert 'data-testid="ship-form"' not in after.text
        timeline = after.text.split('data-testid="timeline"')[1]
        assert "已发货" in timeline and "待发货" in timeline

        again = await clerk.post(
            f"orders/{order['id']}/ship", {"carrier": "顺丰速运", "tracking_no": "SF1"}
        )
        assert again.status_code == 409
        assert "订单状态已变化" in again.text or 'data-testid="form-error"' in again.text

        # Cancelling is the manager's: the clerk gets the 403 page, the order stays.
        refused = await clerk.post(f"orders/{order['id']}/cancel", {"reason": "test"})
        assert refused.status_code == 403
        assert 'data-code="auth.role_required"' in refused.text

    api = await client.get(
        f"{shop.merchant.merchant}/orders/{order['id']}", headers=shop.merchant.auth
    )
    assert (api.json()["status"], api.json()["tracking_no"]) == ("shipped", "SF1234567890")


async def test_a_manager_cancels_an_unpaid_order_and_another_stores_order_is_not_found(
    client: httpx.AsyncClient, rt: Runtime, server: LiveServer
) -> None:
    shop, other = await new_shop(client, rt), await new_shop(client, rt)
    sku = await make_sku(rt, shop.merchant, stock=5)
    address = await make_address(rt, shop.merchant, shop.buyer.id)
    placed = await place(client, shop.merchant, shop.buyer, direct(sku, 2, address))
    order_id = placed.json()["id"]
    username, password = await staff_login(client, shop.merchant, "manager")
    async with signed_in(server.url, shop.merchant, username, password) as manager:
        page = await manager.get(f"orders/{order_id}")
        assert 'data-testid="cancel-form"' in page.text
        assert 'data-testid="refund-form"' not in page.text  # nothing paid
        empty = await manager.post(f"orders/{order_id}/cancel", {"reason": ""})
        assert empty.status_code == 422 and 'data-testid="error-reason"' in empty.text
        cancelled = await manager.post(f"orders/{order_id}/cancel", {"reason": "买家来电取消"})
        assert cancelled.status_code == 303, cancelled.text
        after = await manager.get(f"orders/{order_id}")
        assert "已取消" in after.text and "买家来电取消" in after.text

    async with signed_in(server.url, other.merchant) as stranger:
        assert (await stranger.get(f"orders/{order_id}")).status_code == 404
        assert (await stranger.get("orders/not-an-id")).status_code == 404


async def test_a_refund_is_confirmed_first_and_made_once_however_often_it_is_sent(
    client: httpx.AsyncClient, rt: Runtime, server: LiveServer, worker: None
) -> None:
    shop = await new_shop(client, rt)
    tea, cup = (
        await make_sku(rt, shop.merchant, price=3000, title="乌龙"),
        await make_sku(rt, shop.merchant, price=1000, title="杯子"),
    )
    order = await paid_order(client, rt, shop, [(tea, 2), (cup, 1)])
    tea_line = line_of(order, tea)
    async with signed_in(server.url, shop.merchant) as owner:
        # Some units: too many is refused in place, nothing held.
        too_many = await owner.post(
            f"orders/{order['id']}/refund",
            {"mode": "lines", f"qty.{tea_line}": "3", "reason": "缺货"},
        )
        assert too_many.status_code == 409, too_many.text
        assert 'data-testid="form-error"' in too_many.text
        none = await owner.post(f"orders/{order['id']}/refund", {"mode": "lines", "reason": "x"})
        assert none.status_code == 422 and 'data-testid="error-lines"' in none.text
        no_amount = await owner.post(
            f"orders/{order['id']}/refund", {"mode": "amount", "amount": "", "reason": "x"}
        )
        assert no_amount.status_code == 422 and 'data-testid="error-amount"' in no_amount.text
        bad_amount = await owner.post(
            f"orders/{order['id']}/refund", {"mode": "amount", "amount": "1.234", "reason": "x"}
        )
        assert bad_amount.status_code == 422 and "12.50" in bad_amount.text

        quote = await owner.post(
            f"orders/{order['id']}/refund",
            {"mode": "lines", f"qty.{tea_line}": "1", "reason": "缺货"},
        )
        assert quote.status_code == 200, quote.text
        assert 'data-testid="refund-quote"' in quote.text
        assert "¥30.00" in quote.text and "乌龙" in quote.text
        assert await refunds_of(rt, shop.merchant, order["id"]) == []  # only a quote
        fields = dict(
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', quote.text)
        )
        assert fields["mode"] == "lines" and fields[f"qty.{tea_line}"] == "1"
        fields.pop("_csrf")
        # Sent twice (a second click): the second answer is the first one's.
        first = await owner.post(f"orders/{order['id']}/refund/confirm", fields)
        second = await owner.post(f"orders/{order['id']}/refund/confirm", fields)
        assert (first.status_code, second.status_code) == (303, 303), (first.text, second.text)
        [made] = await refunds_of(rt, shop.merchant, order["id"])
        assert (made.amount, made.lines[0]["quantity"]) == (3000, 1)
        await settled(client, rt, shop.merchant, made.id, "succeeded")

        page = await owner.get(f"orders/{order['id']}?done=refunded")
        assert 'data-testid="notice"' in page.text
        assert "¥30.00" in page.text.split('data-testid="refunded"')[1][:40]

        # Money only, then the whole rest.
        quote = await owner.post(
            f"orders/{order['id']}/refund", {"mode": "amount", "amount": "5", "reason": "补偿"}
        )
        assert "¥5.00" in quote.text and "不退回商品" in quote.text
        fields = dict(
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', quote.text)
        )
        # Sent twice at once: one refund; the other answer waits for it or says it is made.
        both = await asyncio.gather(
            *(owner.post(f"orders/{order['id']}/refund/confirm", fields) for _ in range(2))
        )
        assert sorted(answer.status_code for answer in both) in ([303, 303], [303, 409])
        quote = await owner.post(
            f"orders/{order['id']}/refund", {"mode": "whole", "reason": "全退"}
        )
        rest = order["paid_amount"] - 3000 - 500
        assert f"¥{rest // 100}.{rest % 100:02d}" in quote.text
    amounts = sorted(r.amount for r in await refunds_of(rt, shop.merchant, order["id"]))
    assert amounts == [500, 3000]


async def test_refund_requests_are_approved_or_rejected_with_a_reason(
    client: httpx.AsyncClient, rt: Runtime, server: LiveServer, worker: None
) -> None:
    shop = await new_shop(client, rt)
    sku = await make_sku(rt, shop.merchant, price=2000)
    kept = await paid_order(client, rt, shop, [(sku, 1)])
    returned = await paid_order(client, rt, shop, [(sku, 1)])
    for order, why in ((kept, "不想要了"), (returned, "尺码不对")):
        asked = await ask_refund(client, shop.merchant, shop.buyer, order["id"], {"reason": why})
        assert asked.status_code == 201, asked.text
    [to_reject] = await refunds_of(rt, shop.merchant, kept["id"])
    [to_approve] = await refunds_of(rt, shop.merchant, returned["id"])

    username, password = await staff_login(client, shop.merchant, "clerk")
    async with signed_in(server.url, shop.merchant, username, password) as clerk:
        waiting = await clerk.get("refunds")
        assert waiting.status_code == 200
        assert f'data-testid="refund-{to_reject.id}"' in waiting.text
        assert f'data-testid="refund-{to_approve.id}"' in waiting.text
        seen = await clerk.get(f"refunds/{to_approve.id}")
        assert seen.status_code == 200 and 'data-testid="decide"' not in seen.text
        refused = await clerk.post(f"refunds/{to_approve.id}/approve", {"restock": "on"})
        assert refused.status_code == 403

    async with signed_in(server.url, shop.merchant) as owner:
        detail = await owner.get(f"refunds/{to_approve.id}")
        assert "尺码不对" in detail.text and 'data-testid="approve-form"' in detail.text
        approved = await owner.post(f"refunds/{to_approve.id}/approve", {"restock": "on"})
        assert approved.status_code == 303, approved.text
        twice = await owner.post(f"refunds/{to_approve.id}/approve", {"restock": "on"})
        assert twice.status_code == 409

        no_reason = await owner.post(f"refunds/{to_reject.id}/reject", {"reason": ""})
        assert no_reason.status_code == 422 and 'data-testid="error-reason"' in no_reason.text
        rejected = await owner.post(f"refunds/{to_reject.id}/reject", {"reason": "已拆封"})
        assert rejected.status_code == 303
        after = await owner.get(f"refunds/{to_reject.id}?done=rejected")
        assert "已拆封" in after.text and 'data-testid="decide"' not in after.text

        done = await owner.get("refunds?status=all")
        assert done.text.count('data-testid="refund-') == 2
        assert 'data-testid="refund-' not in (await owner.get("refunds")).text

    approved_row = await settled(client, rt, shop.merchant, to_approve.id, "succeeded")
    assert approved_row["restock"] is True
    [rejected_row] = await refunds_of(rt, shop.merchant, kept["id"])
    assert (rejected_row.status, rejected_row.reject_reason) == ("rejected", "已拆封")


async def test_console_posts_without_the_csrf_token_change_no_order(
    client: httpx.AsyncClient, rt: Runtime, server: LiveServer
) -> None:
    shop = await new_shop(client, rt)
    sku = await make_sku(rt, shop.merchant, price=1000)
    order = await paid_order(client, rt, shop, [(sku, 1)])
    asked = await ask_refund(client, shop.merchant, shop.buyer, order["id"], {"reason": "坏了"})
    refund_id = asked.json()["id"]
    async with signed_in(server.url, shop.merchant) as owner:
        for path, data in (
            (f"orders/{order['id']}/ship", {"carrier": "SF", "tracking_no": "SF1"}),
            (f"orders/{order['id']}/refund/confirm", {"mode": "whole", "reason": "x", "key": "k1"}),
            (f"refunds/{refund_id}/approve", {}),
            (f"refunds/{refund_id}/reject", {"reason": "no"}),
        ):
            refused = await owner.post(path, data, csrf=False)
            assert refused.status_code == 403, (path, refused.text)
            assert 'data-code="csrf.invalid"' in refused.text
    [refund] = await refunds_of(rt, shop.merchant, order["id"])
    assert refund.status == "requested"
    api = await client.get(
        f"{shop.merchant.merchant}/orders/{order['id']}", headers=shop.merchant.auth
    )
    assert api.json()["status"] == "paid"
