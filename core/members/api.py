"""HTTP routes of the members domain.

Storefront (``/store/{tenant}/v1``): ``/auth/*`` is public; everything under ``/me`` needs
the member's bearer token (``opt={"member": True}`` on the controller, checked by the store
guard before the body is read) and works on the token's member only.
Merchant (``/merchant/{tenant}/v1``): ``/member-levels`` and ``/members``.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from core.api import AnyRequest, Ctx, CurrentMember, Cursor, Limit, Tenant, runtime_of
from core.commerce import Benefit
from core.members import admin, service
from core.members import schemas as s
from core.paging import DEFAULT_LIMIT, Page


class MemberAuthController(Controller):
    path = "/auth"
    tags = ["store"]

    @post("/wx-login", status_code=200)
    async def wx_login(
        self, request: AnyRequest, tenant: Tenant, data: JSONBody[s.WxLoginIn]
    ) -> s.TokenOut:
        """Sign in with a ``wx.login`` code. The first sign-in creates the member."""
        return await service.wx_login(runtime_of(request), tenant, data)

    @post("/refresh", status_code=200)
    async def refresh(
        self, request: AnyRequest, tenant: Tenant, data: JSONBody[s.RefreshIn]
    ) -> s.TokenOut:
        """Trade a refresh token for new tokens; the old refresh token ends."""
        return await service.refresh(runtime_of(request), tenant, data.refresh_token)

    @post("/logout", status_code=204)
    async def logout(self, ctx: Ctx, data: JSONBody[s.RefreshIn]) -> None:
        """End the session of this refresh token."""
        await service.logout(ctx, data.refresh_token)


class MeController(Controller):
    path = "/me"
    tags = ["store"]
    opt = {"member": True}

    @get("/")
    async def me(self, ctx: Ctx, member: CurrentMember) -> s.MemberOut:
        return await service.get_me(ctx, member.id)

    @patch("/")
    async def update_me(
        self, ctx: Ctx, member: CurrentMember, data: JSONBody[s.ProfilePatch]
    ) -> s.MemberOut:
        return await service.update_me(ctx, member.id, data)

    @post("/phone", status_code=200)
    async def bind_phone(
        self, request: AnyRequest, tenant: Tenant, member: CurrentMember, data: JSONBody[s.PhoneIn]
    ) -> s.MemberOut:
        """Store the phone number behind a ``getPhoneNumber`` button code."""
        return await service.bind_phone(runtime_of(request), tenant, member.id, data.code)

    @get("/benefits")
    async def benefits(self, ctx: Ctx, member: CurrentMember) -> list[Benefit]:
        return await service.benefits(ctx, member.id)

    @get("/addresses")
    async def list_addresses(self, ctx: Ctx, member: CurrentMember) -> list[s.AddressOut]:
        """The default first, then the newest."""
        return await service.list_addresses(ctx, member.id)

    @post("/addresses")
    async def create_address(
        self, ctx: Ctx, member: CurrentMember, data: JSONBody[s.AddressIn]
    ) -> s.AddressOut:
        return await service.create_address(ctx, member.id, data)

    @get("/addresses/{address_id:str}")
    async def get_address(
        self, ctx: Ctx, member: CurrentMember, address_id: FromPath[str]
    ) -> s.AddressOut:
        return await service.get_address(ctx, member.id, address_id)

    @patch("/addresses/{address_id:str}")
    async def update_address(
        self,
        ctx: Ctx,
        member: CurrentMember,
        address_id: FromPath[str],
        data: JSONBody[s.AddressPatch],
    ) -> s.AddressOut:
        return await service.update_address(ctx, member.id, address_id, data)

    @delete("/addresses/{address_id:str}", status_code=204)
    async def delete_address(
        self, ctx: Ctx, member: CurrentMember, address_id: FromPath[str]
    ) -> None:
        await service.delete_address(ctx, member.id, address_id)


class LevelsController(Controller):
    path = "/member-levels"
    tags = ["merchant"]

    @get("/")
    async def list_levels(self, ctx: Ctx) -> list[s.LevelOut]:
        return await admin.list_levels(ctx)

    @post("/")
    async def create_level(self, ctx: Ctx, data: JSONBody[s.LevelIn]) -> s.LevelOut:
        """``discount_percent`` is percent off: 5 means 5% off (9.5折), 0 none."""
        return await admin.create_level(ctx, data)

    @patch("/{level_id:str}")
    async def update_level(
        self, ctx: Ctx, level_id: FromPath[str], data: JSONBody[s.LevelPatch]
    ) -> s.LevelOut:
        return await admin.update_level(ctx, level_id, data)

    @delete("/{level_id:str}", status_code=204)
    async def delete_level(self, ctx: Ctx, level_id: FromPath[str]) -> None:
        await admin.delete_level(ctx, level_id)


class MembersController(Controller):
    path = "/members"
    tags = ["merchant"]

    @get("/")
    async def list_members(
        self,
        ctx: Ctx,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        q: Annotated[str | None, QueryParameter(max_length=64)] = None,
        tag: Annotated[str | None, QueryParameter(max_length=20)] = None,
        level_id: Annotated[str | None, QueryParameter(max_length=26)] = None,
    ) -> Page[s.MemberSummary]:
        """Search by nickname or phone (``q``, contains), a tag, or a level."""
        return await admin.list_members(ctx, limit, cursor, q, tag, level_id)

    @get("/{member_id:str}")
    async def member_detail(self, ctx: Ctx, member_id: FromPath[str]) -> s.MemberDetail:
        """Profile, level, addresses, source, tags and the newest 20 orders."""
        return await admin.member_detail(ctx, member_id)

    @put("/{member_id:str}/tags")
    async def set_tags(
        self, ctx: Ctx, member_id: FromPath[str], data: JSONBody[s.TagsIn]
    ) -> s.MemberSummary:
        """Replace the member's tags: at most 20, each at most 20 characters."""
        return await admin.set_tags(ctx, member_id, data)


STORE_ROUTES: list[Any] = [MemberAuthController, MeController]
MERCHANT_ROUTES: list[Any] = [LevelsController, MembersController]
