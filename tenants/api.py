"""Vendor API (``/vendor/v1``), merchant auth/staff/keys/plugins (``/merchant/{tenant}/v1``)
and the storefront's store info (``/store/{tenant}/v1``)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody, PathParameter, QueryParameter

from core.api import AnyRequest, Ctx, Cursor, Limit, Tenant, runtime_of
from core.auth import bearer_token
from core.errors import AppError
from core.paging import DEFAULT_LIMIT, Page
from tenants import plugin_settings, service
from tenants import schemas as s

# ``?q=``: a part of a tenant's slug or name.
Search = Annotated[str | None, QueryParameter(max_length=100)]


class PlansController(Controller):
    path = "/plans"
    tags = ["vendor"]

    @get("/")
    async def list_plans(self, request: AnyRequest) -> list[s.PlanOut]:
        return await service.list_plans(runtime_of(request))

    @put("/{code:str}")
    async def put_plan(
        self, request: AnyRequest, code: FromPath[str], data: JSONBody[s.PlanIn]
    ) -> s.PlanOut:
        if data.code != code:
            raise AppError("plan code in the body must match the path", code="plan.code_mismatch")
        return await service.put_plan(runtime_of(request), data)


class TenantsController(Controller):
    path = "/tenants"
    tags = ["vendor"]

    @post("/")
    async def onboard(self, request: AnyRequest, data: JSONBody[s.TenantCreate]) -> s.TenantCreated:
        return await service.onboard(runtime_of(request), data)

    @get("/")
    async def list_tenants(
        self,
        request: AnyRequest,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: FromQuery[Literal["active", "suspended"] | None] = None,
        q: Search = None,
    ) -> Page[s.TenantOut]:
        return await service.list_tenants(runtime_of(request), limit, cursor, status, q)

    @get("/{slug:str}")
    async def get_tenant(self, request: AnyRequest, slug: FromPath[str]) -> s.TenantOut:
        return await service.get_tenant(runtime_of(request), slug)

    @patch("/{slug:str}")
    async def update_tenant(
        self, request: AnyRequest, slug: FromPath[str], data: JSONBody[s.TenantUpdate]
    ) -> s.TenantOut:
        return await service.update_tenant(runtime_of(request), slug, data)

    @post("/{slug:str}/suspend", status_code=200)
    async def suspend(self, request: AnyRequest, slug: FromPath[str]) -> s.TenantOut:
        return await service.set_status(runtime_of(request), slug, "suspended")

    @post("/{slug:str}/resume", status_code=200)
    async def resume(self, request: AnyRequest, slug: FromPath[str]) -> s.TenantOut:
        return await service.set_status(runtime_of(request), slug, "active")


class MerchantAuthController(Controller):
    path = "/auth"
    tags = ["merchant"]

    @post("/login", status_code=200, opt={"public": True})
    async def login(self, request: AnyRequest, ctx: Ctx, data: JSONBody[s.LoginIn]) -> s.LoginOut:
        return await service.login(ctx, data, runtime_of(request).login_failures)

    @post("/logout", status_code=204)
    async def logout(self, request: AnyRequest, ctx: Ctx) -> None:
        await service.logout(ctx, bearer_token(request.headers.get("authorization")))

    @post("/password", status_code=200)
    async def change_password(self, ctx: Ctx, data: JSONBody[s.PasswordChange]) -> s.StaffOut:
        return await service.change_password(ctx, data)

    @get("/me")
    async def me(self, ctx: Ctx) -> s.StaffOut:
        return service.staff_out(await service.current_staff(ctx))


class StaffController(Controller):
    path = "/staff"
    tags = ["merchant"]

    @get("/")
    async def list_staff(self, ctx: Ctx) -> list[s.StaffOut]:
        return await service.list_staff(ctx)

    @post("/")
    async def create_staff(self, ctx: Ctx, data: JSONBody[s.StaffCreate]) -> s.StaffCreated:
        return await service.create_staff(ctx, data)

    @post("/{staff_id:str}/deactivate", status_code=200)
    async def deactivate(self, ctx: Ctx, staff_id: FromPath[str]) -> s.StaffOut:
        return await service.deactivate_staff(ctx, staff_id)


class ApiKeysController(Controller):
    path = "/api-keys"
    tags = ["merchant"]

    @get("/")
    async def list_keys(self, ctx: Ctx) -> list[s.ApiKeyOut]:
        return await service.list_api_keys(ctx)

    @post("/")
    async def create_key(self, ctx: Ctx, data: JSONBody[s.ApiKeyCreate]) -> s.ApiKeyCreated:
        return await service.create_api_key(ctx, data)

    @post("/{key_id:str}/revoke", status_code=200)
    async def revoke_key(self, ctx: Ctx, key_id: FromPath[str]) -> s.ApiKeyOut:
        return await service.revoke_api_key(ctx, key_id)


PluginName = Annotated[str, PathParameter(pattern=r"^[a-z0-9_]{1,64}$")]


class PluginsController(Controller):
    path = "/plugins"
    tags = ["merchant"]

    @get("/")
    async def list_plugins(self, request: AnyRequest, ctx: Ctx) -> list[s.PluginOut]:
        return await plugin_settings.list_plugins(runtime_of(request), ctx)

    @post("/{name:str}/enable", status_code=200)
    async def enable(
        self,
        request: AnyRequest,
        ctx: Ctx,
        name: PluginName,
        data: JSONBody[s.PluginSettingsIn | None] = None,
    ) -> s.PluginOut:
        settings = data.settings if data is not None else None
        return await plugin_settings.enable(runtime_of(request), ctx, name, settings)

    @post("/{name:str}/disable", status_code=200)
    async def disable(self, request: AnyRequest, ctx: Ctx, name: PluginName) -> s.PluginOut:
        return await plugin_settings.disable(runtime_of(request), ctx, name)

    @put("/{name:str}/settings")
    async def update_settings(
        self, request: AnyRequest, ctx: Ctx, name: PluginName, data: JSONBody[s.PluginSettingsIn]
    ) -> s.PluginOut:
        return await plugin_settings.update_settings(runtime_of(request), ctx, name, data.settings)


class StoreController(Controller):
    path = "/store"
    tags = ["store"]

    @get("/")
    async def store(self, ctx: Ctx, tenant: Tenant) -> s.StoreOut:
        return s.StoreOut(
            slug=tenant.slug,
            name=tenant.name,
            branding=tenant.branding,
            plugins=sorted(tenant.enabled_plugins),
        )


VENDOR_ROUTES = [PlansController, TenantsController]
MERCHANT_ROUTES = [MerchantAuthController, StaffController, ApiKeysController, PluginsController]
STORE_ROUTES = [StoreController]
