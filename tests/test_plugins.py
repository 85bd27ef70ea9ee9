"""Feature plugins per tenant: plan, settings, enable/disable and its lifecycle hooks, roles,
dispatch to the enabled set only, and plugin jobs and cron (across processes:
test_plugin_processes.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.jobs import CronSpec, InProcessQueue, JobSpec, SaqQueue
from core.plugins import TenantHooks, call_acting
from core.runtime import Runtime
from storeplug.testing import Merchant, enable, onboard, problem
from tests.plugins.echo import plugin as echo

ROOT = Path(__file__).resolve().parent.parent

# SAQ 0.26 calls redis-py's deprecated setex; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")


def events_of(tenant_id: str) -> list[tuple[str, str, Any]]:
    return [event for event in echo.EVENTS if event[1] == tenant_id]


async def hello(client: httpx.AsyncClient, merchant: Merchant) -> httpx.Response:
    return await client.get(f"{merchant.store}/echo/hello")


async def plugin_row(client: httpx.AsyncClient, merchant: Merchant, name: str) -> dict[str, Any]:
    response = await client.get(f"{merchant.merchant}/plugins", headers=merchant.auth)
    assert response.status_code == 200, response.text
    rows: dict[str, dict[str, Any]] = {row["name"]: row for row in response.json()}
    return rows[name]


# ---- listing, plan, validation ------------------------------------------------------------


async def test_list_plugins_shows_echo_with_defaults_and_schema(client: httpx.AsyncClient) -> None:
    merchant = await onboard(client)
    row = await plugin_row(client, merchant, "echo")
    assert row["title"] == "Echo"
    assert row["version"] == "1.0.0"
    assert row["in_plan"] is True
    assert row["enabled"] is False
    assert row["settings"] == {"greeting": "hello", "max_items": 3}
    schema = row["settings_schema"]
    props = schema["$defs"]["EchoSettings"]["properties"]
    assert props["max_items"] == {"type": "integer", "minimum": 1, "maximum": 10, "default": 3}
    assert props["greeting"]["maxLength"] == 40

    unauthenticated = await client.get(f"{merchant.merchant}/plugins")
    problem(unauthenticated, 401, "auth.required")


async def test_enable_is_refused_outside_the_plan_and_for_unknown_plugins(
    client: httpx.AsyncClient,
) -> None:
    basic = await onboard(client, plan="test-basic", plugins=())
    assert (await plugin_row(client, basic, "echo"))["in_plan"] is False
    problem(await enable(client, basic, "echo"), 403, "plugin.not_in_plan")
    assert (await plugin_row(client, basic, "echo"))["enabled"] is False
    problem(await hello(client, basic), 404, "plugin.disabled")

    problem(await enable(client, basic, "nosuchplugin"), 404, "plugin.unknown")
    response = await client.put(
        f"{basic.merchant}/plugins/nosuchplugin/settings",
        json={"settings": {}},
        headers=basic.auth,
    )
    problem(response, 404, "plugin.unknown")
    disable = await client.post(
        f"{basic.merchant}/plugins/nosuchplugin/disable", headers=basic.auth
    )
    problem(disable, 404, "plugin.unknown")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"max_items": 50}, "settings.max_items"),
        ({"max_items": 0}, "settings.max_items"),
        ({"greeting": 5}, "settings.greeting"),
        ({"greeting": ""}, "settings.greeting"),
        # EchoSettings forbids unknown fields: a misspelt setting is an error, not ignored.
        ({"greting": "hi"}, "settings.greting"),
    ],
)
async def test_bad_settings_are_a_field_error(
    client: httpx.AsyncClient, raw: dict[str, Any], field: str
) -> None:
    merchant = await onboard(client)
    body = problem(await enable(client, merchant, "echo", raw), 422, "plugin.invalid_settings")
    assert body["errors"][0]["field"] == field, body
    assert body["errors"][0]["message"]
    # Nothing was half-written: still off, no lifecycle hook ran.
    assert (await plugin_row(client, merchant, "echo"))["enabled"] is False
    assert events_of(merchant.id) == []

    response = await client.put(
        f"{merchant.merchant}/plugins/echo/settings",
        json={"settings": raw},
        headers=merchant.auth,
    )
    body = problem(response, 422, "plugin.invalid_settings")
    assert body["errors"][0]["field"] == field, body
    assert (await plugin_row(client, merchant, "echo"))["settings"]["max_items"] == 3


# ---- enable, settings, disable and the lifecycle hooks -----------------------------------


async def test_enable_settings_disable_and_lifecycle_hooks(client: httpx.AsyncClient) -> None:
    merchant = await onboard(client)
    problem(await hello(client, merchant), 404, "plugin.disabled")

    enabled = await enable(client, merchant, "echo", {"greeting": "ni hao"})
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["enabled"] is True
    assert enabled.json()["settings"] == {"greeting": "ni hao", "max_items": 3}
    response = await hello(client, merchant)
    assert response.status_code == 200, response.text
    assert response.json() == {"greeting": "ni hao", "tenant": merchant.slug}
    store = await client.get(f"{merchant.store}/store")
    assert store.json()["plugins"] == ["echo"]
    assert events_of(merchant.id) == [("enabled", merchant.id, "echo")]

    # Enabling again changes nothing and does not fire the hook a second time.
    again = await enable(client, merchant, "echo")
    assert again.status_code == 200, again.text
    assert again.json()["settings"]["greeting"] == "ni hao"
    assert events_of(merchant.id) == [("enabled", merchant.id, "echo")]

    # New settings apply on the very next request.
    put = await client.put(
        f"{merchant.merchant}/plugins/echo/settings",
        json={"settings": {"greeting": "welcome", "max_items": 5}},
        headers=merchant.auth,
    )
    assert put.status_code == 200, put.text
    assert (await hello(client, merchant)).json()["greeting"] == "welcome"

    disabled = await client.post(f"{merchant.merchant}/plugins/echo/disable", headers=merchant.auth)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["enabled"] is False
    assert disabled.json()["settings"] == {"greeting": "welcome", "max_items": 5}
    problem(await hello(client, merchant), 404, "plugin.disabled")
    merchant_route = await client.get(f"{merchant.merchant}/echo/charges", headers=merchant.auth)
    problem(merchant_route, 404, "plugin.disabled")
    assert (await client.get(f"{merchant.store}/store")).json()["plugins"] == []
    assert events_of(merchant.id) == [
        ("enabled", merchant.id, "echo"),
        ("disabled", merchant.id, "echo"),
    ]
    # Disabling what is off is a no-op.
    await client.post(f"{merchant.merchant}/plugins/echo/disable", headers=merchant.auth)
    assert len(events_of(merchant.id)) == 2

    # Re-enabling without settings keeps the stored ones, and fires the hook again.
    reenabled = await enable(client, merchant, "echo")
    assert reenabled.status_code == 200, reenabled.text
    assert (await hello(client, merchant)).json()["greeting"] == "welcome"
    assert events_of(merchant.id)[-1] == ("enabled", merchant.id, "echo")
    assert len(events_of(merchant.id)) == 3


async def test_settings_can_be_saved_before_enabling(client: httpx.AsyncClient) -> None:
    merchant = await onboard(client)
    put = await client.put(
        f"{merchant.merchant}/plugins/echo/settings",
        json={"settings": {"greeting": "prepared"}},
        headers=merchant.auth,
    )
    assert put.status_code == 200, put.text
    assert put.json()["enabled"] is False
    problem(await hello(client, merchant), 404, "plugin.disabled")
    assert events_of(merchant.id) == []
    assert (await enable(client, merchant, "echo")).status_code == 200
    assert (await hello(client, merchant)).json()["greeting"] == "prepared"


async def test_only_the_owner_toggles_plugins(client: httpx.AsyncClient) -> None:
    merchant = await onboard(client)
    created = await client.post(
        f"{merchant.merchant}/staff",
        json={"username": "clerk1", "role": "clerk"},
        headers=merchant.auth,
    )
    assert created.status_code == 201, created.text
    login = await client.post(
        f"{merchant.merchant}/auth/login",
        json={"username": "clerk1", "password": created.json()["initial_password"]},
    )
    assert login.status_code == 200, login.text
    clerk = Merchant(
        slug=merchant.slug,
        id=merchant.id,
        token=login.json()["token"],
        password="",
        plan=merchant.plan,
    )
    problem(await enable(client, clerk, "echo"), 403, "auth.role_required")
    settings = await client.put(
        f"{clerk.merchant}/plugins/echo/settings",
        json={"settings": {"greeting": "clerk was here"}},
        headers=clerk.auth,
    )
    problem(settings, 403, "auth.role_required")
    assert (await plugin_row(client, merchant, "echo"))["enabled"] is False

    assert (await enable(client, merchant, "echo")).status_code == 200
    disable = await client.post(f"{clerk.merchant}/plugins/echo/disable", headers=clerk.auth)
    problem(disable, 403, "auth.role_required")
    assert (await hello(client, merchant)).status_code == 200
    assert events_of(merchant.id) == [("enabled", merchant.id, "echo")]

    # Another tenant's owner token is not valid here.
    other = await onboard(client)
    intruder = await client.post(f"{merchant.merchant}/plugins/echo/disable", headers=other.auth)
    problem(intruder, 401, "auth.invalid_token")


# ---- dispatch ----------------------------------------------------------------------------


async def test_tenant_hooks_reach_only_the_enabled_plugins(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    a = await onboard(client)
    a2 = await onboard(client)
    b = await onboard(client)
    b2 = await onboard(client)
    for merchant in (a, a2):
        assert (await enable(client, merchant, "echo")).status_code == 200

    info_a = await rt.tenants.resolve(a.slug)
    info_a2 = await rt.tenants.resolve(a2.slug)
    info_b = await rt.tenants.resolve(b.slug)
    info_b2 = await rt.tenants.resolve(b2.slug)
    assert info_a.enabled_plugins == frozenset({"echo"})
    assert info_b.enabled_plugins == frozenset()

    hooks_a = rt.plugins.hooks_for(info_a.enabled_plugins)
    hooks_b = rt.plugins.hooks_for(info_b.enabled_plugins)
    assert isinstance(hooks_a, TenantHooks)
    # Cached by the enabled set, not by the tenant: equal sets share one proxy.
    assert rt.plugins.hooks_for(info_a2.enabled_plugins) is hooks_a
    assert rt.plugins.hooks_for(info_b2.enabled_plugins) is hooks_b
    assert hooks_a is not hooks_b
    assert rt.plugins.hooks_for(frozenset({"echo"})) is hooks_a

    impls_a = {impl.plugin_name for impl in hooks_a.plugin_enabled.get_hookimpls()}
    impls_b = {impl.plugin_name for impl in hooks_b.plugin_enabled.get_hookimpls()}
    assert "echo" in impls_a
    assert "echo" not in impls_b

    for info, hooks in ((info_a, hooks_a), (info_b, hooks_b)):
        async with rt.tenant_context(info) as ctx:
            assert ctx.hooks is hooks  # what a request's context dispatches through
            await call_acting(hooks.plugin_enabled(ctx=ctx, plugin="probe", config=None))
            await call_acting(hooks.plugin_disabled(ctx=ctx, plugin="probe"))
    assert events_of(a.id)[-2:] == [("enabled", a.id, "probe"), ("disabled", a.id, "probe")]
    assert events_of(b.id) == []

    # The whole manager (registration hooks) still sees every plugin.
    assert "echo" in {
        impl.plugin_name for impl in rt.plugins.all_hooks.plugin_enabled.get_hookimpls()
    }


async def test_register_routes_mounts_plugin_routes_behind_the_guard(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    hook = rt.plugins.pm.hook.register_routes
    by_surface = {
        surface: [handler for batch in hook(surface=surface) for handler in batch]
        for surface in ("store", "merchant", "console")
    }
    assert echo.hello in by_surface["store"]
    assert {echo.charge, echo.count_charges} <= set(by_surface["merchant"])
    assert echo.echo_page in by_surface["console"]

    schema = (await client.get("/schema/openapi.json")).json()
    assert "/store/{tenant_slug}/v1/echo/hello" in schema["paths"]
    assert "/merchant/{tenant_slug}/v1/echo/charges" in schema["paths"]

    merchant = await onboard(client)
    problem(await hello(client, merchant), 404, "plugin.disabled")
    problem(await client.get("/store/no-such-store/v1/echo/hello"), 404, "tenant.not_found")


# ---- jobs and cron -----------------------------------------------------------------------


async def test_register_jobs_and_register_cron_feed_the_queue(rt: Runtime) -> None:
    specs: list[JobSpec] = [s for batch in rt.plugins.pm.hook.register_jobs() for s in batch]
    crons: list[CronSpec] = [c for batch in rt.plugins.pm.hook.register_cron() for c in batch]
    names = {spec.name for spec in specs}
    assert {"echo.record", "core.purge_idempotency_keys"} <= names
    assert len(names) == len(specs)
    # The always-on core module uses the same hooks as plugins do.
    assert CronSpec(job="core.purge_idempotency_keys", cron="17 * * * *") in crons
    assert all(cron.job in names for cron in crons)
    if isinstance(rt.jobs, SaqQueue):
        scheduled = {c.function.__qualname__ for c in rt.jobs.cron_jobs}
        assert any(name.endswith(":core.purge_idempotency_keys") for name in scheduled)


async def test_a_plugin_job_runs_through_the_runtime_queue(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await onboard(client)
    expected = ("job", merchant.id, "from the test")
    worker: asyncio.Task[None] | None = None
    if isinstance(rt.jobs, SaqQueue):
        # The test server only enqueues; `storeplug worker` runs jobs in production.
        worker = asyncio.create_task(rt.jobs.run_worker())
    try:
        await rt.jobs.enqueue("echo.record", tenant_id=merchant.id, note="from the test")
        if isinstance(rt.jobs, InProcessQueue):
            await rt.jobs.drain()
        else:
            async with asyncio.timeout(10):
                while expected not in echo.EVENTS:  # noqa: ASYNC110 - polling the job's effect
                    await asyncio.sleep(0.05)
        assert events_of(merchant.id) == [expected]
    finally:
        if worker is not None:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
