"""The stamp card's routes, mounted under the tenant prefixes (the core answers 404
``plugin.disabled`` for a store that has it off).

- storefront: ``GET /stampcard/card``, the signed-in member's card;
- merchant: ``GET /stampcard/members/{id}/cards`` (clerks), and
  ``POST /stampcard/members/{id}/stamps``, a stamp at the counter for a purchase made in the
  shop (clerks; an ``Idempotency-Key`` is required, so a double tap stamps once).
"""

from __future__ import annotations

from typing import Any

from core.api import AnyRequest, Caller, Ctx, CurrentMember, Tenant, runtime_of
from core.auth import require_role, require_staff
from core.context import TenantContext
from core.idempotency import HEADER, answers, run_idempotent
from litestar import Controller, get, post
from litestar.params import FromPath

from storeplug_stampcard import service
from storeplug_stampcard.schemas import CardOut, MyCardOut, StampOut

MEMBER = {"member": True}
MemberId = FromPath[str]
STAMP_ROUTE = "POST /stampcard/members/{id}/stamps"


class StoreController(Controller):
    path = "/stampcard"
    tags = ["store", "stampcard"]

    @get("/card", opt=MEMBER)
    async def my_card(self, ctx: Ctx, member: CurrentMember) -> MyCardOut:
        return await service.my_card(ctx, member.id)


class MerchantController(Controller):
    path = "/stampcard"
    tags = ["merchant", "stampcard"]

    @get("/members/{member_id:str}/cards")
    async def cards(self, ctx: Ctx, member_id: MemberId) -> list[CardOut]:
        require_staff(ctx, "clerk")
        return await service.cards_of(ctx, member_id)

    @post(
        "/members/{member_id:str}/stamps",
        responses=answers(StampOut, "The card the stamp went on"),
    )
    async def stamp(
        self, request: AnyRequest, tenant: Tenant, principal: Caller, member_id: MemberId
    ) -> Any:
        # ``principal``, not ``ctx``: run_idempotent runs its own transactions.
        require_role(principal.role, "clerk")

        async def work(tx: TenantContext) -> StampOut:
            card, filled = await service.stamp_at_counter(tx, member_id, principal.id)
            return StampOut(card=service.card_out(card), filled=filled)

        return await run_idempotent(
            runtime_of(request),
            tenant,
            principal,
            STAMP_ROUTE,
            request.headers.get(HEADER),
            {"member_id": member_id},
            work,
        )


STORE_ROUTES: list[Any] = [StoreController]
MERCHANT_ROUTES: list[Any] = [MerchantController]
