"""Shared helpers of the coupon tests: templates made over the merchant API, claims and
previews over the storefront API, and rows read straight from the database."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from core.catalog.models import Category, Product
from core.coupons.models import CouponTemplate, MemberCoupon
from core.db import utcnow
from core.runtime import Runtime
from storeplug.testing import Merchant, Shopper

TEMPLATES = "/coupons/templates"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def body(kind: str = "fixed", **fields: Any) -> dict[str, Any]:
    """A valid template body of ``kind`` (30 days after the claim), changed by ``fields``."""
    defaults: dict[str, dict[str, Any]] = {
        "fixed": {"amount": 500},
        "percent": {"percent_off": 15},
        "threshold": {"amount": 2000, "min_spend": 10000},
        "free_shipping": {},
    }
    return {"name": f"{kind} coupon", "kind": kind, "valid_days": 30, **defaults[kind], **fields}


async def make_template(
    client: httpx.AsyncClient, m: Merchant, kind: str = "fixed", **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{m.merchant}{TEMPLATES}", json=body(kind, **fields), headers=m.auth
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def claim(
    client: httpx.AsyncClient, m: Merchant, buyer: Shopper, template_id: str
) -> httpx.Response:
    return await client.post(f"{m.store}/coupons/{template_id}/claim", headers=buyer.auth)


async def claimed(
    client: httpx.AsyncClient, m: Merchant, buyer: Shopper, kind: str = "fixed", **fields: Any
) -> str:
    """A new template's coupon in ``buyer``'s hands: its member coupon id."""
    template = await make_template(client, m, kind, **fields)
    response = await claim(client, m, buyer, template["id"])
    assert response.status_code == 201, response.text
    coupon_id: str = response.json()["id"]
    return coupon_id


async def preview(
    client: httpx.AsyncClient,
    m: Merchant,
    buyer: Shopper,
    coupon_id: str | None = None,
    fulfillment: str | None = "express",
) -> dict[str, Any]:
    options = {} if coupon_id is None else {"coupon_id": coupon_id}
    response = await client.post(
        f"{m.store}/cart/preview",
        json={"fulfillment": fulfillment, "options": options},
        headers=buyer.auth,
    )
    assert response.status_code == 200, response.text
    priced: dict[str, Any] = response.json()
    return priced


def coupon_parts(priced: dict[str, Any]) -> dict[str | None, int]:
    """The coupon adjustments of a priced cart: line key (None: the order) → amount."""
    return {
        a["line_key"]: a["amount"]
        for a in priced["adjustments"]
        if a["source"].startswith("coupon:")
    }


async def coupon_row(rt: Runtime, m: Merchant, coupon_id: str) -> MemberCoupon:
    async with rt.db.tenant_session(m.id) as session:
        row = await session.get(MemberCoupon, (m.id, coupon_id))
    assert row is not None
    return row


async def template_row(rt: Runtime, m: Merchant, template_id: str) -> CouponTemplate:
    async with rt.db.tenant_session(m.id) as session:
        row = await session.get(CouponTemplate, (m.id, template_id))
    assert row is not None
    return row


async def coupons_of(rt: Runtime, m: Merchant, template_id: str) -> list[MemberCoupon]:
    async with rt.db.tenant_session(m.id) as session:
        rows = await session.scalars(
            select(MemberCoupon).where(MemberCoupon.template_id == template_id)
        )
        return list(rows.all())


async def expire(rt: Runtime, m: Merchant, coupon_id: str) -> None:
    """Move a coupon's validity into the past."""
    async with rt.db.tenant_session(m.id) as session:
        row = await session.get(MemberCoupon, (m.id, coupon_id))
        assert row is not None
        row.valid_from = utcnow() - timedelta(days=10)
        row.valid_until = utcnow() - timedelta(seconds=1)


async def categorise(rt: Runtime, m: Merchant, product_id: str, parent: str | None = None) -> str:
    """A new category (under ``parent``) holding ``product_id``: the category's id."""
    async with rt.db.tenant_session(m.id) as session:
        category = Category(name=f"cat-{secrets.token_hex(2)}", parent_id=parent)
        session.add(category)
        await session.flush()
        product = await session.get(Product, (m.id, product_id))
        assert product is not None
        product.category_id = category.id
        return category.id
