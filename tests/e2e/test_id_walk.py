"""Every id-taking endpoint refuses ids it must not see: on the merchant API, the ids of
another tenant; on the storefront, the ids of another tenant and of another member of the
same store. The walk reads the routes from the OpenAPI document, so a new endpoint joins it
by existing, and it sends valid bodies so that the id lookup, not validation, is what refuses.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx

from core.runtime import Runtime
from storeplug.testing import Merchant, Shopper, make_member, onboard
from tests.commerce.payments_support import pay, use_sandbox
from tests.flashsale.support import walkable_activity
from tests.groupbuy.views_support import walkable_groupbuy
from tests.leaders.support import walkable_leader
from tests.notifications.support import walkable_notification
from tests.pickup.support import point_body, walkable_point
from tests.points.support import walkable_catalog_item
from tests.sharecoupon.support import walkable_sharecoupon

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "/categories/{category_id}"): {"name": "hijack"},
    ("post", "/inventory/skus/{sku_id}/adjust"): {"delta": 1},
    ("put", "/inventory/skus/{sku_id}/safety-stock"): {"safety_stock": 1},
    ("put", "/inventory/skus/{sku_id}/stock"): {"stock": 99},
    ("patch", "/member-levels/{level_id}"): {"name": "hijack"},
    ("put", "/members/{member_id}/tags"): {"tags": ["hijack"]},
    ("post", "/orders/{order_id}/cancel"): {"reason": "hijack"},
    ("post", "/orders/{order_id}/ship"): {"carrier": "SF", "tracking_no": "SF123"},
    ("patch", "/products/{product_id}"): {"title": "hijack"},
    ("patch", "/cart/lines/{line_id}"): {"quantity": 2},
    ("patch", "/me/addresses/{address_id}"): {"name": "hijack"},
    ("patch", "/coupons/templates/{template_id}"): {"name": "hijack"},
    ("post", "/coupons/templates/{template_id}/issue"): {"tag": "hijack"},
    ("post", "/orders/{order_id}/refunds"): {"reason": "hijack"},
    ("post", "/orders/{order_id}/refunds/quote"): {"reason": "hijack"},
    ("post", "/refunds/{refund_id}/reject"): {"reason": "hijack"},
    ("post", "/orders/{order_id}/pay"): {},
    ("put", "/flashsale/activities/{activity_id}"): {
        "title": "hijack",
        "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2030-01-02T00:00:00Z",
        "items": [{"sku_id": "0" * 26, "flash_price": 1, "stock": 1}],
    },
    ("post", "/flashsale/{activity_id}/buy"): {"sku_id": "0" * 26},
    ("put", "/pickup/points/{point_id}"): point_body("hijack", 22.5, 113.9),
    ("post", "/pickup/points/{point_id}/verify"): {"code": "12345678"},
    ("post", "/points/members/{member_id}/adjustments"): {"points": 1, "reason": "hijack"},
    ("put", "/groupbuy/activities/{activity_id}"): {
        "product_id": "0" * 26,
        "title": "hijack",
        "team_size": 2,
        "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2030-01-02T00:00:00Z",
        "items": [{"sku_id": "0" * 26, "group_price": 1}],
    },
    ("post", "/groupbuy/activities/{activity_id}/open"): {"sku_id": "0" * 26},
    ("post", "/groupbuy/teams/{team_id}/join"): {"sku_id": "0" * 26},
    ("post", "/groupbuy/teams/{team_id}/close"): {"reason": "hijack"},
    ("put", "/sharecoupon/campaigns/{campaign_id}"): {
        "title": "hijack",
        "template_id": "0" * 26,
        "pack_size": 1,
    },
    ("post", "/leaders/{leader_id}/approve"): {},
    ("post", "/leaders/{leader_id}/reject"): {"reason": "hijack"},
    ("post", "/leaders/{leader_id}/suspend"): {"reason": "hijack"},
    ("post", "/leaders/{leader_id}/end"): {"reason": "hijack"},
    ("put", "/leaders/{leader_id}/level"): {"level": "standard"},
}
# A plugin, an RFM segment, an export, a notification event's name: not rows.
NOT_IDS = {"name", "segment", "table", "event"}
MEMBER_OWNED = {"line_id", "address_id", "order_id", "refund_id"}


@dataclass
class Shop:
    merchant: Merchant
    ids: dict[str, str] = field(default_factory=dict)
    members: dict[str, Shopper] = field(default_factory=dict)


async def stock_shop(client: httpx.AsyncClient, rt: Runtime) -> Shop:
    """A store with one of everything an id can name, for each of two members."""
    shop = Shop(await onboard(client))
    m, auth = shop.merchant.merchant, shop.merchant.auth
    category = (await client.post(f"{m}/categories/", json={"name": "茶"}, headers=auth)).json()
    barcode = f"69{secrets.randbelow(10**11):011d}"
    product = await client.post(
        f"{m}/products/",
        json={
            "title": "乌龙",
            "status": "on",
            "category_id": category["id"],
            "skus": [{"price": 1000, "stock": 50, "barcode": barcode}],
        },
        headers=auth,
    )
    assert product.status_code == 201, product.text
    level = await client.post(
        f"{m}/member-levels/", json={"name": "Gold", "threshold": 100}, headers=auth
    )
    staff = await client.post(
        f"{m}/staff/", json={"username": "clerk1", "role": "clerk"}, headers=auth
    )
    key = await client.post(f"{m}/api-keys/", json={"name": "ERP"}, headers=auth)
    coupon = await client.post(
        f"{m}/coupons/templates/",
        json={"name": "立减", "kind": "fixed", "amount": 100, "valid_days": 7},
        headers=auth,
    )
    shop.ids.update(
        category_id=category["id"],
        product_id=product.json()["id"],
        sku_id=product.json()["skus"][0]["id"],
        code=barcode,
        level_id=level.json()["id"],
        staff_id=staff.json()["staff"]["id"],
        key_id=key.json()["api_key"]["id"],
        template_id=coupon.json()["id"],
    )
    campaign = await client.post(
        f"{m}/campaigns/",
        json={
            "name": "walk",
            "template_id": coupon.json()["id"],
            "audience": {"kind": "tag", "tag": "walk"},
        },
        headers=auth,
    )
    assert campaign.status_code == 201, campaign.text
    shop.ids["campaigns.campaign_id"] = campaign.json()["id"]  # beside the share coupon's
    await use_sandbox(client, shop.merchant)
    shop.ids["activity_id"] = await walkable_activity(client, shop.merchant, shop.ids["sku_id"])
    shop.ids["point_id"] = await walkable_point(client, shop.merchant)
    shop.ids["item_id"] = await walkable_catalog_item(
        client, shop.merchant, shop.ids["template_id"]
    )
    shop.ids.update(await walkable_groupbuy(client, rt, shop.merchant, shop.ids["sku_id"]))
    shop.ids.update(
        await walkable_sharecoupon(
            client, rt, shop.merchant, shop.ids["sku_id"], shop.ids["template_id"]
        )
    )
    shop.ids.update(await walkable_leader(client, rt, shop.merchant, shop.ids["sku_id"]))
    s = shop.merchant.store
    for who in ("x", "y"):
        member = await make_member(rt, shop.merchant, nickname=who)
        shop.members[who] = member
        address = await client.post(
            f"{s}/me/addresses",
            json={
                "name": who,
                "phone": "13800138000",
                "province": "浙江省",
                "city": "杭州市",
                "detail": "文一西路 1 号",
            },
            headers=member.auth,
        )
        line = await client.post(
            f"{s}/cart/lines",
            json={"sku_id": shop.ids["sku_id"], "quantity": 1},
            headers=member.auth,
        )
        order = await client.post(
            f"{s}/orders",
            json={
                "items": [{"sku_id": shop.ids["sku_id"], "quantity": 1}],
                "fulfillment_data": {"address_id": address.json()["id"]},
            },
            headers={**member.auth, "Idempotency-Key": secrets.token_hex(8)},
        )
        assert order.status_code == 201, order.text
        refund_id = await paid_and_disputed(
            client, shop.merchant, member, shop.ids["sku_id"], address.json()["id"]
        )
        shop.ids.update(
            {
                f"{who}.member_id": member.id,
                f"{who}.address_id": address.json()["id"],
                f"{who}.line_id": line.json()["lines"][0]["id"],
                f"{who}.order_id": order.json()["id"],
                f"{who}.refund_id": refund_id,
            }
        )
    shop.ids["notification_id"] = await walkable_notification(
        rt, shop.merchant, shop.members["x"].id
    )
    return shop


async def paid_and_disputed(
    client: httpx.AsyncClient, merchant: Merchant, member: Shopper, sku_id: str, address_id: str
) -> str:
    """A second order of the member's, paid, with a refund requested: its refund id."""
    s = merchant.store
    order = await client.post(
        f"{s}/orders",
        json={
            "items": [{"sku_id": sku_id, "quantity": 1}],
            "fulfillment_data": {"address_id": address_id},
        },
        headers={**member.auth, "Idempotency-Key": secrets.token_hex(8)},
    )
    assert order.status_code == 201, order.text
    assert (await pay(client, merchant, member, order.json()["id"])).status_code == 201
    refund = await client.post(
        f"{s}/orders/{order.json()['id']}/refunds",
        json={"reason": "wrong size"},
        headers={**member.auth, "Idempotency-Key": secrets.token_hex(8)},
    )
    assert refund.status_code == 201, refund.text
    return str(refund.json()["id"])


def id_routes(schema: dict[str, Any], surface: str) -> list[tuple[str, str, list[str]]]:
    prefix = f"/{surface}/{{tenant_slug}}/v1"
    routes = []
    for path, operations in schema["paths"].items():
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix) :]
        params = [p for p in re.findall(r"{(\w+)}", rest) if p not in NOT_IDS]
        if params:
            routes += [(method, rest, params) for method in operations]
    return routes


def fill(rest: str, ids: dict[str, str], member: str) -> str:
    # A plugin whose parameter shares another's name keys its ids "<plugin>.<name>"
    # (the group-buy's activity_id beside the flash sale's).
    plugin = rest.split("/")[1]

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return ids.get(f"{member}.{name}") or ids.get(f"{plugin}.{name}") or ids[name]

    return re.sub(r"{(\w+)}", value, rest)


async def call(
    client: httpx.AsyncClient, method: str, url: str, rest: str, headers: dict[str, str]
) -> httpx.Response:
    body = BODIES.get((method, rest))
    if method == "post":  # money routes want a key before they look anything up
        headers = {**headers, "Idempotency-Key": secrets.token_hex(8)}
    return await client.request(method.upper(), url, json=body, headers=headers)


async def test_no_endpoint_reaches_another_tenants_or_members_rows(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    a, b = await stock_shop(client, rt), await stock_shop(client, rt)
    schema = (await client.get("/schema/openapi.json")).json()

    merchant_routes = id_routes(schema, "merchant")
    assert len(merchant_routes) >= 15, merchant_routes
    for method, rest, _ in merchant_routes:
        # B's owner, on B's own store, naming A's rows.
        url = b.merchant.merchant + fill(rest, a.ids, "x")
        response = await call(client, method, url, rest, b.merchant.auth)
        assert response.status_code == 404, (method, url, response.status_code, response.text)

    store_routes = id_routes(schema, "store")
    assert len(store_routes) >= 7, store_routes
    x = b.members["x"]
    for method, rest, params in store_routes:
        targets = [(a, "x")]  # another store's rows
        if set(params) <= MEMBER_OWNED:
            targets.append((b, "y"))  # another member's rows in the same store
        for owner, member in targets:
            url = b.merchant.store + fill(rest, owner.ids, member)
            response = await call(client, method, url, rest, x.auth)
            assert response.status_code == 404, (method, url, response.status_code, response.text)

    # Nothing of A's, or of B's member y, was touched by the walk.
    m, auth = a.merchant.merchant, a.merchant.auth
    product = await client.get(f"{m}/products/{a.ids['product_id']}", headers=auth)
    assert product.json()["title"] == "乌龙"
    order = await client.get(f"{m}/orders/{a.ids['x.order_id']}", headers=auth)
    assert order.json()["status"] == "pending_payment"
    shopper = await client.get(f"{m}/members/{a.ids['x.member_id']}", headers=auth)
    assert shopper.json()["tags"] == []
    group = await client.get(
        f"{m}/groupbuy/activities/{a.ids['groupbuy.activity_id']}", headers=auth
    )
    assert (group.json()["title"], group.json()["status"]) == ("walk", "active")
    team = await client.get(f"{m}/groupbuy/teams/{a.ids['team_id']}", headers=auth)
    assert team.json()["status"] == "forming"
    campaign = await client.get(f"{m}/sharecoupon/campaigns/{a.ids['campaign_id']}", headers=auth)
    assert (campaign.json()["title"], campaign.json()["status"]) == ("分享立减金", "active")
    packs = await client.get(
        f"{m}/sharecoupon/campaigns/{a.ids['campaign_id']}/packs", headers=auth
    )
    [pack] = [p for p in packs.json()["items"] if p["id"] == a.ids["pack_id"]]
    assert (pack["claimed"], pack["status"], pack["shared"]) == (0, "active", True)
    targeted = await client.get(f"{m}/campaigns/{a.ids['campaigns.campaign_id']}", headers=auth)
    assert targeted.json()["status"] == "draft"
    keys = (await client.get(f"{m}/api-keys/", headers=auth)).json()
    assert [k["revoked"] for k in keys] == [False]
    leader = await client.get(f"{m}/leaders/{a.ids['leader_id']}", headers=auth)
    assert (leader.json()["status"], leader.json()["level"]) == ("active", "standard")
    round_ = await client.get(f"{m}/leaders/rounds/{a.ids['round_id']}", headers=auth)
    assert round_.json()["phase"] == "open"
    y = b.members["y"]
    cart = (await client.get(f"{b.merchant.store}/cart", headers=y.auth)).json()
    assert [line["quantity"] for line in cart["lines"]] == [1]
    addresses = (await client.get(f"{b.merchant.store}/me/addresses", headers=y.auth)).json()
    assert [row["name"] for row in addresses] == ["y"]
