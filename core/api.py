"""HTTP plumbing shared by every surface: the runtime, tenant resolution, the request's
tenant context (one transaction per request) and the plugin route guard."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.params import QueryParameter

from core.auth import bearer_token, check_vendor_token
from core.context import TenantContext, TenantInfo
from core.errors import AppError, Forbidden
from core.paging import MAX_LIMIT
from core.runtime import Runtime

AnyRequest = Request[Any, Any, Any]
# Handler parameters: ``ctx: Ctx`` (this request's tenant transaction; ``anon_ctx`` on the
# merchant login route), ``tenant: Tenant`` (the resolved tenant of the path).
Ctx = NamedDependency[TenantContext]
Tenant = NamedDependency[TenantInfo]
# ``limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None`` on a list handler.
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, QueryParameter(max_length=200)]


def runtime_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime


async def tenant_of(connection: ASGIConnection[Any, Any, Any, Any]) -> TenantInfo:
    """The tenant named in the path, resolved once per request (guards and handlers share)."""
    cached = connection.scope.get("storeplug_tenant")
    if isinstance(cached, TenantInfo):
        return cached
    slug = connection.path_params.get("tenant_slug")
    if not isinstance(slug, str):
        raise AppError("no tenant in the path", code="tenant.not_found", status=404)
    info = await runtime_of(connection).tenants.resolve(slug)
    connection.scope["storeplug_tenant"] = info  # type: ignore[typeddict-unknown-key]
    return info


async def provide_tenant(request: AnyRequest) -> TenantInfo:
    return await tenant_of(request)


async def provide_store_ctx(
    request: AnyRequest, tenant: Tenant
) -> AsyncGenerator[TenantContext, None]:
    if not tenant.active:
        raise Forbidden("this store is suspended", code="tenant.suspended")
    async with runtime_of(request).tenant_context(tenant) as ctx:
        yield ctx


async def provide_anon_merchant_ctx(
    request: AnyRequest, tenant: Tenant
) -> AsyncGenerator[TenantContext, None]:
    async with runtime_of(request).tenant_context(tenant) as ctx:
        yield ctx


async def provide_merchant_ctx(
    request: AnyRequest, tenant: Tenant
) -> AsyncGenerator[TenantContext, None]:
    from tenants.service import authenticate  # tenants builds on core; import at call time

    token = bearer_token(request.headers.get("authorization"))
    async with runtime_of(request).tenant_context(tenant) as ctx:
        ctx.principal = await authenticate(ctx, token)
        yield ctx


STORE_DEPENDENCIES = {
    "tenant": Provide(provide_tenant),
    "ctx": Provide(provide_store_ctx),
}
MERCHANT_DEPENDENCIES = {
    "tenant": Provide(provide_tenant),
    "ctx": Provide(provide_merchant_ctx),
    "anon_ctx": Provide(provide_anon_merchant_ctx),
}


def vendor_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    check_vendor_token(
        runtime_of(connection).settings.vendor_token, connection.headers.get("authorization")
    )


def plugin_guard(plugin: str) -> Any:
    """Routes of ``plugin`` answer 404 ``plugin.disabled`` for tenants that have it off."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        tenant = await tenant_of(connection)
        if plugin not in tenant.enabled_plugins:
            raise AppError(
                f"{plugin} is not enabled for this store", code="plugin.disabled", status=404
            )

    return guard
