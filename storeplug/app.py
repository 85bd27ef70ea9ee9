"""The Litestar app factory: surfaces, plugin routes, errors, health and OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from litestar import Litestar, Router, get
from litestar.datastructures import CacheControlHeader, State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from core.analytics import api as analytics_api
from core.analytics import console as analytics_console
from core.api import (
    MERCHANT_DEPENDENCIES,
    STORE_DEPENDENCIES,
    SURFACE_GUARDS,
    AnyRequest,
    plugin_guard,
    runtime_of,
    vendor_guard,
)
from core.campaigns import api as campaigns_api
from core.cart import api as cart_api
from core.catalog import api as catalog_api
from core.console.render import (
    STATIC_DIR,
    STATIC_PREFIX,
    ConsoleTemplates,
    core_template_dirs,
    plugin_dirs,
)
from core.console.security import security_headers
from core.console.web import CONSOLE_EXCEPTION_HANDLERS, console_guard, theme
from core.coupons import api as coupons_api
from core.errors import EXCEPTION_HANDLERS, problem_response
from core.inventory import api as inventory_api
from core.inventory import console as inventory_console
from core.members import api as members_api
from core.middleware import configure_logging, request_id_middleware
from core.notifications import api as notifications_api
from core.notifications import console as notifications_console
from core.orders import api as orders_api
from core.orders import console as orders_console
from core.payments import api as payments_api
from core.payments import console as payments_console
from core.payments import refund_api
from core.runtime import Runtime
from core.settings import Settings
from core.store import api as store_api
from storeplug.runtime import build_runtime
from tenants import api as tenants_api
from tenants import console as tenants_console
from tenants import vendor_console

DOMAINS = (
    tenants_api,
    store_api,
    catalog_api,
    inventory_api,
    members_api,
    cart_api,
    orders_api,
    coupons_api,
    payments_api,
    refund_api,
    analytics_api,
    campaigns_api,
    notifications_api,
)

# Console pages of the core and the vendor side (each module's ``CONSOLE_ROUTES``).
CONSOLE_DOMAINS = (
    tenants_console,
    analytics_console,
    notifications_console,
    orders_console,
    payments_console,
    inventory_console,
)
ROOT = Path(__file__).resolve().parent.parent

VERSION = "0.1.0"
SURFACES: dict[str, tuple[str, dict[str, Any]]] = {
    "store": ("/store/{tenant_slug:str}/v1", STORE_DEPENDENCIES),
    "merchant": ("/merchant/{tenant_slug:str}/v1", MERCHANT_DEPENDENCIES),
    "console": ("/console/{tenant_slug:str}", MERCHANT_DEPENDENCIES),
}
CORE_ROUTES: dict[str, list[Any]] = {
    "store": [handler for domain in DOMAINS for handler in domain.STORE_ROUTES],
    "merchant": [handler for domain in DOMAINS for handler in domain.MERCHANT_ROUTES],
    "console": [
        theme,
        *(handler for domain in CONSOLE_DOMAINS for handler in domain.CONSOLE_ROUTES),
    ],
}
# What a console router has beyond the surface's dependencies and guard: HTML error pages.
CONSOLE_ROUTER: dict[str, Any] = {"exception_handlers": CONSOLE_EXCEPTION_HANDLERS}


@get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", tags=["ops"])
async def readyz(request: AnyRequest) -> Any:
    runtime = runtime_of(request)
    checks = {"database": "ok", "redis": "ok" if runtime.redis else "not configured"}
    try:
        await runtime.db.ping()
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    if runtime.redis is not None:
        try:
            await runtime.redis.ping()
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    if any(v.startswith("error") for v in checks.values()):
        return problem_response(503, "unavailable", f"not ready: {checks}")
    return {"status": "ready", **checks}


def _surface_routers(runtime: Runtime) -> list[Router]:
    """Core routes, then each plugin's, under each tenant prefix; plugin routes get a guard."""
    routers = []
    hook = runtime.plugins.pm.hook.register_routes
    for surface, (prefix, dependencies) in SURFACES.items():
        guards = [console_guard] if surface == "console" else SURFACE_GUARDS.get(surface, [])
        extra = CONSOLE_ROUTER if surface == "console" else {}
        if CORE_ROUTES[surface]:
            routers.append(
                Router(
                    prefix,
                    route_handlers=CORE_ROUTES[surface],
                    dependencies=dependencies,
                    guards=guards,
                    **extra,
                )
            )
        for impl in hook.get_hookimpls():
            handlers = cast(list[Any], impl.function(surface=surface))
            if not handlers:
                continue
            feature = impl.plugin_name in runtime.plugins.metas
            routers.append(
                Router(
                    prefix,
                    route_handlers=handlers,
                    dependencies=dependencies,
                    guards=[*guards, plugin_guard(impl.plugin_name)] if feature else guards,
                    **extra,
                )
            )
    return routers


def build_console(runtime: Runtime) -> ConsoleTemplates:
    """Every owner's templates and catalogs: the core's domains, the vendor side's, and
    each installed feature plugin's (``templates/`` and ``locale/`` beside its module)."""
    templates = {
        **core_template_dirs(),
        "tenants": ROOT / "tenants" / "templates",
        **plugin_dirs(runtime.plugins, "templates"),
    }
    locales = [
        ROOT / "core" / "locale",
        ROOT / "tenants" / "locale",
        *plugin_dirs(runtime.plugins, "locale").values(),
    ]
    return ConsoleTemplates(templates, locales)


def create_app(settings: Settings, runtime: Runtime | None = None) -> Litestar:
    configure_logging(settings.log_level)
    runtime = runtime or build_runtime(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.close()

    vendor = Router("/vendor/v1", route_handlers=tenants_api.VENDOR_ROUTES, guards=[vendor_guard])
    # The provider's operators in a browser: the console framework in a realm of its own.
    vendor_pages = Router(
        vendor_console.BASE,
        route_handlers=vendor_console.CONSOLE_ROUTES,
        guards=[vendor_console.vendor_console_guard],
        **CONSOLE_ROUTER,
    )
    # Provider notifications: no caller credentials (the provider's signature is checked).
    webhooks = Router("/webhooks/{tenant_slug:str}", route_handlers=payments_api.WEBHOOK_ROUTES)
    static = create_static_files_router(
        path=STATIC_PREFIX,
        directories=[STATIC_DIR],
        name="console-static",
        # URLs carry the file's hash (``ConsoleTemplates.static_url``): keep it for a year.
        cache_control=CacheControlHeader(max_age=365 * 24 * 3600, public=True, immutable=True),
    )
    return Litestar(
        route_handlers=[
            healthz,
            readyz,
            vendor,
            vendor_pages,
            webhooks,
            static,
            *_surface_routers(runtime),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[request_id_middleware],
        before_send=[security_headers],
        lifespan=[lifespan],
        state=State({"runtime": runtime, "console": build_console(runtime)}),
        openapi_config=OpenAPIConfig(
            title="storeplug",
            version=VERSION,
            path="/schema",
            render_plugins=[JsonRenderPlugin(), SwaggerRenderPlugin()],
        ),
        debug=False,
    )
