"""The stamp card's console page (``/console/{tenant}/stampcard``): the settings in force
and the cards filled lately, with what each earned."""

from __future__ import annotations

from typing import Any

from core.api import AnyRequest, Ctx
from core.auth import require_staff
from core.console.web import page
from litestar import Response, get

from storeplug_stampcard import service

SHOWN = 50


@get(f"/{service.PLUGIN}", include_in_schema=False)
async def cards_page(request: AnyRequest, ctx: Ctx) -> Response[str]:
    require_staff(ctx, "clerk")
    return page(
        request,
        f"{service.PLUGIN}/page.html",
        settings=service.settings_of(ctx.tenant),
        cards=await service.latest_filled(ctx, SHOWN),
    )


CONSOLE_ROUTES: list[Any] = [cards_page]
