"""Plugins that require others (``PluginMeta.requires``): enabling without the dependency and
disabling a dependency in use are refused with a code naming the other plugin; a plan that
drops the dependency switches the dependant off too; start-up refuses a missing dependency
and a cycle. The test plugin ``needs_echo`` requires ``echo``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from types import ModuleType

import httpx
import pytest

from core.plugins import PluginMeta, active_plugins, build_registry
from storeplug.testing import Merchant, enable, ensure_plan, onboard, problem, unique_slug
from tests.plugins.echo import plugin as echo

PLUGINS = ("echo", "needs_echo")


async def disable(client: httpx.AsyncClient, merchant: Merchant, name: str) -> httpx.Response:
    return await client.post(f"{merchant.merchant}/plugins/{name}/disable", headers=merchant.auth)


async def enabled(client: httpx.AsyncClient, merchant: Merchant) -> dict[str, bool]:
    listed = await client.get(f"{merchant.merchant}/plugins", headers=merchant.auth)
    assert listed.status_code == 200, listed.text
    return {row["name"]: row["enabled"] for row in listed.json() if row["name"] in PLUGINS}


async def store_plugins(client: httpx.AsyncClient, merchant: Merchant) -> list[str]:
    store = await client.get(f"{merchant.store}/store")
    assert store.status_code == 200, store.text
    return [name for name in store.json()["plugins"] if name in PLUGINS]


async def test_enabling_without_the_dependency_is_refused_naming_it(
    client: httpx.AsyncClient,
) -> None:
    merchant = await onboard(client, plugins=PLUGINS)
    body = problem(await enable(client, merchant, "needs_echo"), 409, "plugin.requires_plugin")
    assert "echo" in body["detail"]
    assert body["errors"] == [{"field": "requires", "message": "echo"}]
    assert await enabled(client, merchant) == {"echo": False, "needs_echo": False}

    assert (await enable(client, merchant, "echo")).status_code == 200
    on = await enable(client, merchant, "needs_echo")
    assert on.status_code == 200, on.text
    assert on.json()["enabled"] is True
    assert on.json()["requires"] == ["echo"]
    assert await store_plugins(client, merchant) == ["echo", "needs_echo"]


async def test_disabling_a_dependency_in_use_is_refused_naming_the_dependant(
    client: httpx.AsyncClient,
) -> None:
    merchant = await onboard(client, plugins=PLUGINS)
    assert (await enable(client, merchant, "echo")).status_code == 200
    assert (await enable(client, merchant, "needs_echo")).status_code == 200
    events_before = [e for e in echo.EVENTS if e[1] == merchant.id]

    body = problem(await disable(client, merchant, "echo"), 409, "plugin.required_by_plugin")
    assert "needs_echo" in body["detail"]
    assert body["errors"] == [{"field": "required_by", "message": "needs_echo"}]
    assert await enabled(client, merchant) == {"echo": True, "needs_echo": True}
    # Refused before echo's plugin_disabled hook ran.
    assert [e for e in echo.EVENTS if e[1] == merchant.id] == events_before

    assert (await disable(client, merchant, "needs_echo")).status_code == 200
    off = await disable(client, merchant, "echo")
    assert off.status_code == 200, off.text
    assert await enabled(client, merchant) == {"echo": False, "needs_echo": False}
    # Settings of a dependant can still be saved while it is off.
    saved = await client.put(
        f"{merchant.merchant}/plugins/needs_echo/settings",
        json={"settings": {}},
        headers=merchant.auth,
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["enabled"] is False


async def test_a_plan_without_the_dependency_switches_the_dependant_off(
    client: httpx.AsyncClient,
) -> None:
    plan = unique_slug("plan")
    merchant = await onboard(client, plan=plan, plugins=PLUGINS)
    assert (await enable(client, merchant, "echo")).status_code == 200
    assert (await enable(client, merchant, "needs_echo")).status_code == 200

    await ensure_plan(client, plan, ["needs_echo"])  # echo leaves the plan
    assert await store_plugins(client, merchant) == []
    assert await enabled(client, merchant) == {"echo": False, "needs_echo": False}

    await ensure_plan(client, plan, list(PLUGINS))  # both come back with their rows
    assert await store_plugins(client, merchant) == ["echo", "needs_echo"]


async def test_racing_toggles_never_leave_a_dependant_on_alone(
    client: httpx.AsyncClient, backend: str
) -> None:
    """Enabling the dependant while its dependency is switched off: whichever order the
    database lets them through, the dependant is never left on without the dependency."""
    merchant = await onboard(client, plugins=PLUGINS)
    for _ in range(8):
        assert (await enable(client, merchant, "echo")).status_code == 200
        on, off = await asyncio.gather(
            enable(client, merchant, "needs_echo"), disable(client, merchant, "echo")
        )
        state = await enabled(client, merchant)
        assert state["echo"] or not state["needs_echo"], (on.text, off.text)
        assert {on.status_code, off.status_code} <= {200, 409}
        # Exactly one of them got its way.
        assert (on.status_code == 200) != (off.status_code == 200), (on.text, off.text)
        await disable(client, merchant, "needs_echo")


def test_active_plugins_drops_plugins_whose_dependency_is_off() -> None:
    requires = {"c": ("b",), "b": ("a",)}
    everything = active_plugins({"a", "b", "c"}, lambda name: True, requires)
    assert everything == {"a", "b", "c"}
    assert active_plugins({"a", "b", "c"}, lambda name: name != "a", requires) == set()
    assert active_plugins({"b", "c", "x"}, lambda name: True, requires) == {"x"}


@pytest.fixture
def fake_modules() -> Iterator[dict[str, ModuleType]]:
    made: dict[str, ModuleType] = {}
    yield made
    for name in made:
        sys.modules.pop(name, None)


def _module(made: dict[str, ModuleType], name: str, requires: tuple[str, ...]) -> str:
    module_name = f"tests._fake_plugin_{name}"
    module = ModuleType(module_name)
    module.META = PluginMeta(  # type: ignore[attr-defined]
        name=name, title=name, description="", version="1", requires=requires
    )
    sys.modules[module_name] = made[module_name] = module
    return module_name


def test_start_up_refuses_a_missing_dependency(fake_modules: dict[str, ModuleType]) -> None:
    lonely = _module(fake_modules, "lonely", ("nowhere",))
    with pytest.raises(RuntimeError, match="'lonely' requires plugin 'nowhere'"):
        build_registry([lonely])


def test_start_up_refuses_a_cycle(fake_modules: dict[str, ModuleType]) -> None:
    first = _module(fake_modules, "first", ("second",))
    second = _module(fake_modules, "second", ("first",))
    with pytest.raises(RuntimeError, match="cycle"):
        build_registry([first, second])


def test_the_registry_knows_who_requires_whom(fake_modules: dict[str, ModuleType]) -> None:
    base = _module(fake_modules, "base", ())
    addon = _module(fake_modules, "addon", ("base",))
    registry = build_registry([base, addon])
    assert registry.dependants("base") == ["addon"]
    assert registry.requires["addon"] == ("base",)
