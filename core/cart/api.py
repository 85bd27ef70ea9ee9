"""The storefront cart: ``/store/{tenant}/v1/cart``. Every route needs the member's token and
works on that member's cart only (the member id comes from the token, never the request)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody, PathParameter

from core.analytics.api import count_cart_add
from core.api import AnyRequest, Ctx, CurrentMember
from core.cart import schemas as s
from core.cart import service

MEMBER = {"member": True}
LineId = Annotated[str, PathParameter(max_length=64)]


class CartController(Controller):
    path = "/cart"
    tags = ["store"]

    @get("/", opt=MEMBER)
    async def get_cart(self, ctx: Ctx, member: CurrentMember) -> s.CartOut:
        """Every line with its problems, and the selected lines priced."""
        return await service.get_cart(ctx, member.id)

    @delete("/", opt=MEMBER, status_code=200)
    async def clear_cart(self, ctx: Ctx, member: CurrentMember) -> s.CartOut:
        return await service.clear(ctx, member.id)

    @post("/lines", opt=MEMBER)
    async def add_line(
        self, request: AnyRequest, ctx: Ctx, member: CurrentMember, data: JSONBody[s.LineAdd]
    ) -> s.CartOut:
        """Add a SKU (to its line's quantity if it is in the cart already)."""
        cart = await service.add_line(ctx, member.id, data)
        product_id = next(
            (line.product_id for line in cart.lines if line.sku_id == data.sku_id), ""
        )
        count_cart_add(request, ctx, product_id, member.id)
        return cart

    @patch("/lines/{line_id:str}", opt=MEMBER)
    async def update_line(
        self, ctx: Ctx, member: CurrentMember, line_id: LineId, data: JSONBody[s.LinePatch]
    ) -> s.CartOut:
        return await service.update_line(ctx, member.id, line_id, data)

    @delete("/lines/{line_id:str}", opt=MEMBER, status_code=200)
    async def delete_line(self, ctx: Ctx, member: CurrentMember, line_id: LineId) -> s.CartOut:
        return await service.delete_line(ctx, member.id, line_id)

    @post("/select", opt=MEMBER, status_code=200)
    async def select(
        self, ctx: Ctx, member: CurrentMember, data: JSONBody[s.SelectIn]
    ) -> s.CartOut:
        """Select or deselect the named lines, or every line when ``line_ids`` is absent."""
        return await service.select_lines(ctx, member.id, data)

    @post("/preview", opt=MEMBER, status_code=200)
    async def preview(
        self, ctx: Ctx, member: CurrentMember, data: JSONBody[s.PreviewIn]
    ) -> s.PricedCart:
        """The full price breakdown for checkout: the selected lines, or ``line_ids``."""
        return await service.preview(ctx, member.id, data)


STORE_ROUTES: list[Any] = [CartController]
MERCHANT_ROUTES: list[Any] = []
