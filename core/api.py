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
from core.context import Principal, TenantContext, TenantInfo
from core.errors import AppError, Forbidden, Unauthorized
from core.members.tokens import verify_access_token
from core.paging import MAX_LIMIT
from core.runtime import Runtime

AnyRequest = Request[Any, Any, Any]
# Handler parameters: ``ctx: Ctx`` (this request's tenant transaction), ``tenant: Tenant``
# (the resolved tenant of the path).
Ctx = NamedDependency[TenantContext]
Tenant = NamedDependency[TenantInfo]
# ``principal: Caller`` (merchant surface): the caller the guard authenticated, with no request
# transaction held open. For routes whose work runs in transactions of their own
# (``core.idempotency.run_idempotent``): such a route takes no ``ctx``, whose open transaction
# would hold SQLite's write lock (a deadlock) or a second pooled connection.
Caller = NamedDependency[Principal]
# ``member: CurrentMember`` (storefront, on routes with ``opt={"member": True}``): the signed-in
# member; ``ctx.principal`` is the same member.
CurrentMember = NamedDependency[Principal]
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


async def store_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """A suspended store answers 403 before anything else looks at the request; a route
    marked ``opt={"member": True}`` needs a member token of this store (checked without a
    query), before the body is read."""
    tenant = await tenant_of(connection)
    if not tenant.active:
        raise Forbidden("this store is suspended", code="tenant.suspended")
    if handler.opt.get("member"):
        token = bearer_token(connection.headers.get("authorization"))
        secret = runtime_of(connection).settings.secret_key
        member_id = verify_access_token(secret, tenant.id, token)
        principal = Principal(kind="member", id=member_id, role="member", tenant_id=tenant.id)
        connection.scope["storeplug_principal"] = principal  # type: ignore[typeddict-unknown-key]


async def merchant_auth_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Authenticate staff sessions and API keys for the tenant of the path.

    Every merchant and console route needs a caller unless it is marked
    ``opt={"public": True}`` (the login route). A guard runs before litestar reads the body,
    so a stranger gets 401 and never a 400 about a body they should not be able to probe.
    The principal is kept on the request for ``ctx`` and ``principal`` to use.
    """
    if handler.opt.get("public"):
        return
    tenant = await tenant_of(connection)
    token = bearer_token(connection.headers.get("authorization"))
    runtime = runtime_of(connection)
    async with runtime.tenant_context(tenant) as ctx:
        connection.scope["storeplug_principal"] = await runtime.authenticate(ctx, token)  # type: ignore[typeddict-unknown-key]


def _principal_of(request: AnyRequest) -> Principal | None:
    principal = request.scope.get("storeplug_principal")
    return principal if isinstance(principal, Principal) else None


async def provide_ctx(request: AnyRequest, tenant: Tenant) -> AsyncGenerator[TenantContext, None]:
    """This request's transaction for its tenant, with the caller the guard authenticated."""
    async with runtime_of(request).tenant_context(tenant, _principal_of(request)) as ctx:
        yield ctx


async def provide_member(request: AnyRequest) -> Principal:
    principal = _principal_of(request)
    if principal is None or principal.kind != "member":
        raise Unauthorized("sign in first", code="auth.required")
    return principal


async def provide_principal(request: AnyRequest) -> Principal:
    principal = _principal_of(request)
    if principal is None:
        raise Unauthorized("sign in first", code="auth.required")
    return principal


# Guards per surface; a plugin's routes get the plugin guard after these.
SURFACE_GUARDS: dict[str, list[Any]] = {
    "store": [store_guard],
    "merchant": [merchant_auth_guard],
    "console": [merchant_auth_guard],
}
STORE_DEPENDENCIES = {
    "tenant": Provide(provide_tenant),
    "ctx": Provide(provide_ctx),
    "member": Provide(provide_member),
}
MERCHANT_DEPENDENCIES = {
    "tenant": Provide(provide_tenant),
    "ctx": Provide(provide_ctx),
    "principal": Provide(provide_principal),
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
