"""Coupon templates on the merchant API: the rules a template must meet (field-level 422s),
roles, reading with counts, changing stock and status, issuing to members and tags, other
stores' ids; and ``core.coupons.service.issue`` as a plugin calls it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.coupons import service
from core.errors import AppError
from core.runtime import Runtime
from storeplug.testing import make_member, problem, staff_auth
from tests.commerce.coupons_support import (
    TEMPLATES,
    body,
    claim,
    make_template,
    template_row,
)
from tests.commerce.orders_support import make_sku, new_shop

PAST = "2020-01-01T00:00:00Z"
LATER = "2031-01-01T00:00:00Z"

BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("fixed", {"amount": 0}, "coupon.invalid_amount", "amount"),
    ("fixed", {"amount": -500}, "coupon.invalid_amount", "amount"),
    ("fixed", {"amount": 10**12}, "coupon.invalid_amount", "amount"),
    ("threshold", {"amount": -1}, "coupon.invalid_amount", "amount"),
    ("threshold", {"amount": 2000, "min_spend": 1000}, "coupon.invalid_min_spend", "min_spend"),
    ("fixed", {"min_spend": -1}, "coupon.invalid_min_spend", "min_spend"),
    ("percent", {"percent_off": 0}, "coupon.invalid_percent", "percent_off"),
    ("percent", {"percent_off": 100}, "coupon.invalid_percent", "percent_off"),
    ("percent", {"max_discount": 0}, "coupon.invalid_max_discount", "max_discount"),
    ("fixed", {"percent_off": 10}, "coupon.field_not_allowed", "percent_off"),
    ("free_shipping", {"amount": 100}, "coupon.field_not_allowed", "amount"),
    ("threshold", {"max_discount": 100}, "coupon.field_not_allowed", "max_discount"),
    ("fixed", {"valid_days": 0}, "coupon.invalid_validity", "valid_days"),
    ("fixed", {"valid_days": 366}, "coupon.invalid_validity", "valid_days"),
    ("fixed", {"valid_from": LATER, "valid_until": LATER}, "coupon.invalid_validity", "valid_days"),
    ("fixed", {"valid_days": None}, "coupon.invalid_validity", "valid_from"),
    (
        "fixed",
        {"valid_days": None, "valid_from": LATER},
        "coupon.invalid_validity",
        "valid_until",
    ),
    (
        "fixed",
        {"valid_days": None, "valid_from": LATER, "valid_until": LATER},
        "coupon.invalid_validity",
        "valid_until",
    ),
    (
        "fixed",
        {"valid_days": None, "valid_from": PAST, "valid_until": "2020-02-01T00:00:00Z"},
        "coupon.invalid_validity",
        "valid_until",
    ),
    ("fixed", {"scope_ids": ["X"]}, "coupon.invalid_scope", "scope_ids"),
    ("fixed", {"scope": "products"}, "coupon.invalid_scope", "scope_ids"),
    (
        "fixed",
        {"scope": "categories", "scope_ids": [f"C{i}" for i in range(201)]},
        "coupon.invalid_scope",
        "scope_ids",
    ),
    (
        "fixed",
        {"scope": "products", "scope_ids": ["0" * 26]},
        "coupon.unknown_scope_id",
        "scope_ids[0]",
    ),
    ("fixed", {"total_stock": 0}, "coupon.invalid_stock", "total_stock"),
    ("fixed", {"per_member_limit": 0}, "coupon.invalid_limit", "per_member_limit"),
    ("fixed", {"per_member_limit": 101}, "coupon.invalid_limit", "per_member_limit"),
]


async def test_a_template_must_meet_the_rules(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await new_shop(client, rt)
    m = shop.merchant
    url = f"{m.merchant}{TEMPLATES}"
    for kind, fields, code, field in BAD:
        response = await client.post(url, json=body(kind, **fields), headers=m.auth)
        found = problem(response, 422, code)
        assert [e["field"] for e in found["errors"]] == [field], (kind, fields, found)

    other = await new_shop(client, rt)
    foreign = await make_sku(rt, other.merchant)
    theirs = body("fixed", scope="products", scope_ids=[foreign.product_id])
    problem(await client.post(url, json=theirs, headers=m.auth), 422, "coupon.unknown_scope_id")
    for shape in (
        body("fixed", valid_days=None, valid_from="2031-01-01T00:00:00", valid_until=LATER),
        {**body(), "kind": "bogus"},
        {**body(), "colour": "red"},
        {**body(), "amount": "five"},
        {**body(), "name": ""},
    ):
        problem(await client.post(url, json=shape, headers=m.auth), 400, "request.invalid")
    listed = (await client.get(url, headers=m.auth)).json()
    assert listed["items"] == []  # nothing was half-made

    mine = await make_sku(rt, m)
    scoped = await make_template(
        client, m, scope="products", scope_ids=[mine.product_id, mine.product_id]
    )
    assert scoped["scope_ids"] == [mine.product_id]
    dated = await make_template(
        client, m, "threshold", valid_days=None, valid_from=PAST, valid_until=LATER
    )
    assert (dated["label"], dated["valid_days"], dated["remaining"]) == ("满100减20", None, None)


async def test_roles_reads_and_changes(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await new_shop(client, rt)
    m, buyer = shop.merchant, shop.buyer
    url = f"{m.merchant}{TEMPLATES}"
    clerk, manager = await staff_auth(client, m, "clerk"), await staff_auth(client, m, "manager")
    problem(await client.post(url, json=body(), headers=clerk), 403, "auth.role_required")
    assert (await client.get(url)).status_code == 401
    made = await client.post(url, json=body("percent", total_stock=3), headers=manager)
    assert made.status_code == 201, made.text
    template = made.json()
    assert (template["label"], template["status"], template["claimable"]) == (
        "8.5折",
        "active",
        True,
    )
    assert (template["issued_count"], template["used_count"], template["remaining"]) == (0, 0, 3)
    one = f"{url}/{template['id']}"
    assert (await claim(client, m, buyer, template["id"])).status_code == 201
    second = await make_member(rt, m)
    assert (await claim(client, m, second, template["id"])).status_code == 201

    read = (await client.get(one, headers=clerk)).json()
    assert (read["issued_count"], read["remaining"]) == (2, 1)
    issued = (await client.get(f"{one}/coupons", headers=clerk)).json()
    assert {c["member_id"] for c in issued["items"]} == {buyer.id, second.id}
    assert {(c["status"], c["source"]) for c in issued["items"]} == {("available", "claim")}
    problem(await client.patch(one, json={"name": "x"}, headers=clerk), 403, "auth.role_required")
    problem(
        await client.post(f"{one}/issue", json={"member_ids": [buyer.id]}, headers=clerk),
        403,
        "auth.role_required",
    )

    problem(
        await client.patch(one, json={"total_stock": 1}, headers=manager),
        409,
        "coupon.stock_below_issued",
    )
    problem(
        await client.patch(one, json={"total_stock": 0}, headers=manager),
        422,
        "coupon.invalid_stock",
    )
    assert (await client.patch(one, json={"kind": "fixed"}, headers=manager)).status_code == 400
    changed = await client.patch(
        one,
        json={"name": "新客85折", "description": "新人专享", "total_stock": 2, "claimable": False},
        headers=manager,
    )
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert (after["name"], after["description"], after["claimable"]) == (
        "新客85折",
        "新人专享",
        False,
    )
    assert (after["total_stock"], after["remaining"]) == (2, 0)
    unlimited = (await client.patch(one, json={"total_stock": None}, headers=manager)).json()
    assert (unlimited["total_stock"], unlimited["remaining"]) == (None, None)
    stopped = (await client.patch(one, json={"status": "stopped"}, headers=manager)).json()
    assert stopped["status"] == "stopped"

    await make_template(client, m)
    listed = (await client.get(url, params={"limit": 1}, headers=clerk)).json()
    assert [t["id"] for t in listed["items"]] == [template["id"]] and listed["next_cursor"]
    rest = await client.get(url, params={"cursor": listed["next_cursor"]}, headers=clerk)
    assert len(rest.json()["items"]) == 1 and rest.json()["next_cursor"] is None
    active = (await client.get(url, params={"status": "active"}, headers=clerk)).json()
    assert template["id"] not in {t["id"] for t in active["items"]}

    # Another store's staff see none of it; another store's ids are 404 here.
    other = await new_shop(client, rt)
    theirs = f"{other.merchant.merchant}{TEMPLATES}/{template['id']}"
    for response in (
        await client.get(theirs, headers=other.merchant.auth),
        await client.patch(theirs, json={"name": "x"}, headers=other.merchant.auth),
        await client.get(f"{theirs}/coupons", headers=other.merchant.auth),
        await client.post(f"{theirs}/issue", json={"tag": "vip"}, headers=other.merchant.auth),
    ):
        problem(response, 404, "coupon.not_found")
    assert (await client.get(theirs, headers=m.auth)).status_code == 401  # m's token, other store


async def test_issuing_to_members_and_tags(client: httpx.AsyncClient, rt: Runtime) -> None:
    shop = await new_shop(client, rt)
    m, a = shop.merchant, shop.buyer
    b, c, d = [await make_member(rt, m, name) for name in ("b", "c", "d")]
    other = await new_shop(client, rt)
    template = await make_template(client, m, total_stock=3, claimable=False)
    issue = f"{m.merchant}{TEMPLATES}/{template['id']}/issue"

    unknown = "0" * 26
    sent = await client.post(
        issue, json={"member_ids": [a.id, b.id, a.id, other.buyer.id, unknown]}, headers=m.auth
    )
    assert sent.status_code == 200, sent.text
    assert sent.json() == {
        "issued": 2,
        "skipped": [
            {"member_id": other.buyer.id, "code": "member.not_found"},
            {"member_id": unknown, "code": "member.not_found"},
        ],
    }
    again = (await client.post(issue, json={"member_ids": [a.id]}, headers=m.auth)).json()
    assert again == {"issued": 0, "skipped": [{"member_id": a.id, "code": "coupon.limit_reached"}]}

    for member in (c, d):
        tagged = await client.put(
            f"{m.merchant}/members/{member.id}/tags", json={"tags": ["vip"]}, headers=m.auth
        )
        assert tagged.status_code == 200, tagged.text
    by_tag = (await client.post(issue, json={"tag": "vip"}, headers=m.auth)).json()
    assert by_tag["issued"] == 1  # the stock of 3 ran out
    assert [s["code"] for s in by_tag["skipped"]] == ["coupon.sold_out"]
    assert (await template_row(rt, m, template["id"])).issued_count == 3

    mine = (await client.get(f"{m.store}/me/coupons", headers=a.auth)).json()["items"]
    assert [(x["template_id"], x["source"], x["status"]) for x in mine] == [
        (template["id"], "issue", "available")
    ]
    problem(await claim(client, m, a, template["id"]), 409, "coupon.not_claimable")
    for wrong in ({}, {"member_ids": [a.id], "tag": "vip"}):
        problem(
            await client.post(issue, json=wrong, headers=m.auth), 422, "coupon.invalid_recipients"
        )
    too_many = {"member_ids": [unknown] * 1001}
    assert (await client.post(issue, json=too_many, headers=m.auth)).status_code == 400
    stop = f"{m.merchant}{TEMPLATES}/{template['id']}"
    assert (await client.patch(stop, json={"status": "stopped"}, headers=m.auth)).status_code == 200
    problem(
        await client.post(issue, json={"member_ids": [b.id]}, headers=m.auth),
        409,
        "coupon.not_claimable",
    )


async def test_plugins_issue_through_the_service(client: httpx.AsyncClient, rt: Runtime) -> None:
    """What a share-coupon or points plugin does: issue in its own transaction, past the
    per-member limit when it says so, never past the stock."""
    shop = await new_shop(client, rt)
    m, buyer = shop.merchant, shop.buyer
    template = await make_template(client, m, total_stock=2, claimable=False)
    tenant = await rt.tenants.resolve(m.slug)
    async with rt.tenant_context(tenant) as ctx:
        first = await service.issue(ctx, template["id"], buyer.id, source="sharecoupon")
        with pytest.raises(AppError) as limited:
            await service.issue(ctx, template["id"], buyer.id, source="sharecoupon")
        assert limited.value.code == "coupon.limit_reached"
        second = await service.issue(
            ctx, template["id"], buyer.id, source="points", respect_limit=False
        )
        with pytest.raises(AppError) as sold_out:
            await service.issue(ctx, template["id"], buyer.id, source="points", respect_limit=False)
        assert sold_out.value.code == "coupon.sold_out"
        with pytest.raises(AppError) as stranger:
            await service.issue(ctx, template["id"], "0" * 26, source="points")
        assert (stranger.value.code, stranger.value.status) == ("member.not_found", 404)
        with pytest.raises(AppError) as missing:
            await service.issue(ctx, "0" * 26, buyer.id, source="points")
        assert (missing.value.code, missing.value.status) == ("coupon.not_found", 404)
    assert (first.source, second.source) == ("sharecoupon", "points")
    assert (await template_row(rt, m, template["id"])).issued_count == 2
