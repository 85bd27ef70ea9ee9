"""HTTP routes of the coupons engine.

Storefront (``/store/{tenant}/v1``, the member's token on every route): ``/coupons`` (the
coupons to claim now, and claiming one) and ``/me/coupons`` (the member's own).
Merchant (``/merchant/{tenant}/v1``): ``/coupons/templates`` (clerks read; managers and
owners create, change and issue).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get, patch, post
from litestar.params import FromQuery, JSONBody, PathParameter

from core.api import Ctx, CurrentMember, Cursor, Limit
from core.catalog.schemas import ID_LIKE
from core.coupons import admin, storefront
from core.coupons import schemas as s
from core.paging import DEFAULT_LIMIT, Page

TemplateId = Annotated[str, PathParameter(pattern=ID_LIKE)]


class StoreCouponsController(Controller):
    path = "/coupons"
    tags = ["store"]
    opt = {"member": True}

    @get("/")
    async def claimable(
        self, ctx: Ctx, member: CurrentMember, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[s.ClaimableOut]:
        """Coupons to claim now, with how many of each you hold and whether you may claim."""
        return await storefront.claimable(ctx, member.id, limit, cursor)

    @post("/{template_id:str}/claim", status_code=201)
    async def claim(
        self, ctx: Ctx, member: CurrentMember, template_id: TemplateId
    ) -> s.MemberCouponOut:
        """Claim one: 409 ``coupon.sold_out``, ``coupon.limit_reached`` or
        ``coupon.not_claimable`` when it cannot be had."""
        return await storefront.claim(ctx, member.id, template_id)


class MyCouponsController(Controller):
    path = "/me/coupons"
    tags = ["store"]
    opt = {"member": True}

    @get("/")
    async def my_coupons(
        self,
        ctx: Ctx,
        member: CurrentMember,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: FromQuery[s.CouponStatus | None] = None,
    ) -> Page[s.MemberCouponOut]:
        """Your coupons, newest first; ``status`` filters (expired: validity ended unused)."""
        return await storefront.my_coupons(ctx, member.id, limit, cursor, status)


class CouponTemplatesController(Controller):
    path = "/coupons/templates"
    tags = ["merchant"]

    @post("/", status_code=201)
    async def create_template(self, ctx: Ctx, data: JSONBody[s.TemplateIn]) -> s.TemplateOut:
        return await admin.create_template(ctx, data)

    @get("/")
    async def list_templates(
        self,
        ctx: Ctx,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: FromQuery[s.TemplateStatus | None] = None,
    ) -> Page[s.TemplateOut]:
        """Templates, oldest first, with issued_count, used_count and remaining."""
        return await admin.list_templates(ctx, limit, cursor, status)

    @get("/{template_id:str}")
    async def get_template(self, ctx: Ctx, template_id: TemplateId) -> s.TemplateOut:
        return await admin.get_template(ctx, template_id)

    @patch("/{template_id:str}")
    async def update_template(
        self, ctx: Ctx, template_id: TemplateId, data: JSONBody[s.TemplatePatch]
    ) -> s.TemplateOut:
        """Name, description, total_stock (not below issued_count), claimable, status."""
        return await admin.update_template(ctx, template_id, data)

    @post("/{template_id:str}/issue", status_code=200)
    async def issue(
        self, ctx: Ctx, template_id: TemplateId, data: JSONBody[s.IssueIn]
    ) -> s.IssueOut:
        """One coupon to each member of ``member_ids`` or of ``tag`` (at most 1000)."""
        return await admin.issue_to_members(ctx, template_id, data)

    @get("/{template_id:str}/coupons")
    async def list_issued(
        self,
        ctx: Ctx,
        template_id: TemplateId,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: FromQuery[s.CouponStatus | None] = None,
    ) -> Page[s.IssuedCouponOut]:
        return await admin.list_issued(ctx, template_id, limit, cursor, status)


STORE_ROUTES: list[Any] = [StoreCouponsController, MyCouponsController]
MERCHANT_ROUTES: list[Any] = [CouponTemplatesController]
