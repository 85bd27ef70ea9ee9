"""Every route of the merchant console, found from the app's routes (the core's, the vendor
side's and every plugin's, so a new page joins by existing):

- each page renders for every role with no server error: the owner sees all of them, a
  manager or clerk sees a page or the "your role cannot" page (403), and a menu entry's page
  answers 403 exactly to the roles below the entry's;
- on another store's console, every route that takes an id answers 404 for this store's ids
  (GET and POST, with a valid CSRF token and a valid form, so the lookup is what refuses), and
  nothing of this store changes.

The stores are ``tests/e2e/test_id_walk.py``'s: one of everything an id can name. A page
whose parameter is not one of those ids fails here with its name: add it to ``stock_shop``
(and a form to ``FORMS`` for a POST that validates before it looks the id up).
"""

from __future__ import annotations

import re

import httpx

from core.auth import has_role
from core.console.schemas import NavItem
from core.runtime import Runtime
from storeplug.app import create_app
from storeplug.testing import LiveServer, Merchant, enable
from storeplug.testing.console import console_routes, signed_in, staff_login
from tests.e2e.test_id_walk import NOT_IDS, fill, stock_shop

ROLES = ("owner", "manager", "clerk")
# A valid form for each POST route that takes an id: what it refuses is then the id.
FORMS: dict[str, dict[str, str]] = {
    "/orders/{order_id}/ship": {"carrier": "顺丰速运", "tracking_no": "SF1"},
    "/orders/{order_id}/cancel": {"reason": "hijack"},
    "/orders/{order_id}/refund": {"mode": "whole", "reason": "hijack"},
    "/orders/{order_id}/refund/confirm": {"mode": "whole", "reason": "hijack", "key": "walk"},
    "/refunds/{refund_id}/reject": {"reason": "hijack"},
    "/sharecoupon/{campaign_id}": {"title": "hijack", "template_id": "0" * 26, "pack_size": "1"},
}
# Parameters that are not rows (the id walk's NOT_IDS): a value each page takes.
NAMES = {"name": "echo", "table": "days", "segment": "champions", "event": "order.paid"}
assert set(NAMES) == NOT_IDS, "give the walk a value for each of the id walk's NOT_IDS"
# Pages that answer with something other than a page when all is well.
NOT_PAGES = {"/login": 303, "/theme.css": 200}


async def switch_everything_on(client: httpx.AsyncClient, merchant: Merchant) -> None:
    """Every plugin of the store's plan on, with its default settings (those needing
    another after it)."""
    plugins = (await client.get(f"{merchant.merchant}/plugins/", headers=merchant.auth)).json()
    waiting = [p for p in plugins if p["in_plan"] and not p["enabled"]]
    on = {p["name"] for p in plugins if p["enabled"]}
    while waiting:
        ready = [p for p in waiting if set(p["requires"]) <= on]
        assert ready, f"plugins whose requirements are not in the plan: {waiting}"
        for plugin in ready:
            answer = await enable(client, merchant, plugin["name"])
            assert answer.status_code == 200, answer.text
            on.add(plugin["name"])
            waiting.remove(plugin)


def code_of(response: httpx.Response) -> str:
    match = re.search(r'data-code="([^"]+)"', response.text)
    return match.group(1) if match else ""


async def test_every_console_page_renders_for_every_role_and_hides_nothing_from_its_menu(
    client: httpx.AsyncClient, rt: Runtime, server: LiveServer
) -> None:
    shop = await stock_shop(client, rt)
    await switch_everything_on(client, shop.merchant)
    app = create_app(rt.settings, rt)
    pages = [r for r in console_routes(app) if r.method == "GET"]
    assert len(pages) >= 10, pages
    tenant = await rt.tenants.resolve(shop.merchant.slug)
    nav: list[NavItem] = [
        item
        for batch in rt.plugins.hooks_for(tenant.enabled_plugins).console_nav(tenant=tenant)
        for item in batch or []
    ]
    menu_roles = {f"/{item.path}".rstrip("/") or "/": item.role for item in nav}

    logins = {"owner": ("owner", shop.merchant.password)}
    for role in ROLES[1:]:
        logins[role] = await staff_login(client, shop.merchant, role)
    for role in ROLES:
        async with signed_in(server.url, shop.merchant, *logins[role]) as console:
            for route in pages:
                url = fill(route.path, {**shop.ids, **NAMES}, "x")
                answer = await console.get(url)
                where = (role, route.path, answer.status_code, code_of(answer))
                assert answer.status_code < 500, (*where, answer.text[-2000:])
                if route.path in NOT_PAGES:
                    assert answer.status_code == NOT_PAGES[route.path], where
                    continue
                if role == "owner":
                    assert answer.status_code == 200, (*where, answer.text[-2000:])
                else:
                    assert answer.status_code in (200, 403), (*where, answer.text[-2000:])
                    if answer.status_code == 403:
                        assert code_of(answer) == "auth.role_required", where
                        assert 'data-testid="error"' in answer.text  # the console's page
                entry = menu_roles.get(route.path)
                if entry is not None:
                    expected = 200 if has_role(role, entry) else 403
                    assert answer.status_code == expected, (*where, f"menu entry for {entry}")
                    link = f'href="{console.base}{route.path.rstrip("/")}'
                    assert (link in (await console.get("")).text) == has_role(role, entry), where


async def test_no_console_route_reaches_another_stores_rows(
    client: httpx.AsyncClient, rt: Runtime, server: LiveServer
) -> None:
    a, b = await stock_shop(client, rt), await stock_shop(client, rt)
    await switch_everything_on(client, b.merchant)
    app = create_app(rt.settings, rt)
    routes = [r for r in console_routes(app) if set(r.params) - NOT_IDS]
    assert {r.method for r in routes} == {"GET", "POST"}
    assert len(routes) >= 8, routes

    async with signed_in(server.url, b.merchant) as console:
        for route in routes:
            # B's owner, on B's own console, naming A's rows.
            url = fill(route.path, a.ids, "x")
            if route.method == "GET":
                answer = await console.get(url)
            else:
                await console.get("")  # a fresh CSRF token of this session
                answer = await console.post(url, FORMS.get(route.path, {}))
            where = (route.method, url, answer.status_code, code_of(answer))
            assert answer.status_code == 404, (*where, answer.text[-1500:])
            assert code_of(answer) != "plugin.disabled", where  # the plugin is on in B

    # Nothing of A's was touched.
    m, auth = a.merchant.merchant, a.merchant.auth
    order = await client.get(f"{m}/orders/{a.ids['x.order_id']}", headers=auth)
    assert order.json()["status"] == "pending_payment"
    refund = await client.get(f"{m}/refunds/{a.ids['x.refund_id']}", headers=auth)
    assert refund.json()["status"] == "requested"
    campaign = await client.get(f"{m}/sharecoupon/campaigns/{a.ids['campaign_id']}", headers=auth)
    assert (campaign.json()["title"], campaign.json()["status"]) == ("分享立减金", "active")
