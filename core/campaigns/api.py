"""HTTP routes of targeted campaigns, under ``/merchant/{tenant}/v1/campaigns`` (managers
and owners)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.params import FromQuery, JSONBody, PathParameter

from core.analytics.export import csv_response
from core.api import Ctx, Cursor, Limit
from core.campaigns import schemas as s
from core.campaigns import service
from core.catalog.schemas import ID_LIKE
from core.paging import DEFAULT_LIMIT, MAX_LIMIT, Page

CampaignId = Annotated[str, PathParameter(pattern=ID_LIKE)]
EXPORT_ROWS = 100_000  # recipients in one CSV


class CampaignsController(Controller):
    path = "/campaigns"
    tags = ["campaigns"]

    @post("/")
    async def create(self, ctx: Ctx, data: JSONBody[s.CampaignIn]) -> s.CampaignOut:
        """A draft: nothing is issued until it is launched. ``audience_size`` is who it would
        reach now."""
        return await service.create(ctx, data)

    @post("/preview", status_code=200)
    async def preview(self, ctx: Ctx, data: JSONBody[s.AudienceIn]) -> s.AudienceSize:
        return s.AudienceSize(members=await service.audience_size(ctx, data.audience))

    @get("/")
    async def list_campaigns(
        self, ctx: Ctx, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[s.CampaignOut]:
        return await service.list_campaigns(ctx, limit, cursor)

    @get("/{campaign_id:str}")
    async def get_campaign(self, ctx: Ctx, campaign_id: CampaignId) -> s.CampaignOut:
        """The campaign with its results: issued, skipped (and why), used, and the GMV of
        the orders that used its coupons."""
        return await service.get(ctx, campaign_id)

    @post("/{campaign_id:str}/launch", status_code=202)
    async def launch(self, ctx: Ctx, campaign_id: CampaignId) -> s.CampaignOut:
        """Snapshot the audience and start issuing (409 ``campaign.already_launched``)."""
        return await service.launch(ctx, campaign_id)

    @get("/{campaign_id:str}/recipients")
    async def recipients(
        self,
        ctx: Ctx,
        campaign_id: CampaignId,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: FromQuery[s.RecipientStatus | None] = None,
    ) -> Page[s.RecipientOut]:
        return await service.recipients(ctx, campaign_id, limit, cursor, status)

    @get("/{campaign_id:str}/export")
    async def export(self, ctx: Ctx, campaign_id: CampaignId) -> Response[bytes]:
        """The recipients as CSV (the first 100,000)."""
        rows: list[s.RecipientOut] = []
        cursor = None
        while len(rows) < EXPORT_ROWS:
            page = await service.recipients(ctx, campaign_id, MAX_LIMIT, cursor)
            rows += page.items
            cursor = page.next_cursor
            if cursor is None:
                break
        return csv_response(rows, f"campaign-{campaign_id}")


STORE_ROUTES: list[Any] = []
MERCHANT_ROUTES: list[Any] = [CampaignsController]
