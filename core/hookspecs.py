"""Every hook storeplug calls. Each hook is documented in docs/hooks.md and tested.

Hooks that *register* things are called once at start-up on the whole plugin manager.
Hooks that *act* for a tenant are called through ``TenantHooks`` so only the plugins enabled
for that tenant answer; they may be ``async def`` and are awaited one after another inside
the caller's transaction (see ``core.plugins.call_acting``). Hooks never call the network:
they enqueue jobs, and the jobs do the I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from core.context import TenantContext
    from core.jobs import CronSpec, JobSpec

hookspec = pluggy.HookspecMarker("storeplug")
hookimpl = pluggy.HookimplMarker("storeplug")


@hookspec
def register_routes(surface: str) -> list[Any]:
    """Route handlers or controllers to mount under one API surface.

    ``surface`` is ``"store"`` (mounted at ``/store/{tenant}/v1``), ``"merchant"``
    (``/merchant/{tenant}/v1``) or ``"console"`` (``/console/{tenant}``). Called once at
    start-up. Routes of a feature plugin answer 404 ``plugin.disabled`` for tenants that have
    not enabled it; the guard is added by the core, the plugin writes none.
    """


@hookspec
def register_jobs() -> list[JobSpec]:
    """Job functions this plugin runs in the background (``core.jobs.JobSpec``)."""


@hookspec
def register_cron() -> list[CronSpec]:
    """Cron schedules (``core.jobs.CronSpec``) for jobs registered through ``register_jobs``."""


@hookspec
def plugin_enabled(ctx: TenantContext, plugin: str, config: Any) -> Any:
    """A merchant switched ``plugin`` on; ``config`` is its validated settings Struct.

    Called on the tenant's hooks *after* the plugin joined them, so the plugin itself hears
    it (to seed defaults, schedule jobs). May be async.
    """


@hookspec
def plugin_disabled(ctx: TenantContext, plugin: str) -> Any:
    """A merchant switched ``plugin`` off. Called while the plugin is still in the tenant's
    hooks so it can wind down (cancel its schedules). Its data stays. May be async.
    """
