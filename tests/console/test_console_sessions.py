"""Browser sessions of the merchant console over real HTTP: the cookie, CSRF, sign-out and
password changes, the security headers, roles and tenants."""

from __future__ import annotations

import httpx

from core.console.security import CONTENT_SECURITY_POLICY
from storeplug.testing import LiveServer, enable, onboard
from storeplug.testing.console import console_client, csrf_in, signed_in, staff_login
from tests.plugins.echo.plugin import BROKEN_NAV


def cookie_attributes(response: httpx.Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header.lower()
    raise AssertionError(f"no {name} cookie set: {response.headers.get_list('set-cookie')}")


async def test_sign_in_sets_a_scoped_httponly_lax_cookie_and_out_revokes_it(
    client: httpx.AsyncClient, server: LiveServer
) -> None:
    merchant = await onboard(client)
    async with console_client(server.url, merchant.slug) as console:
        page = await console.get("")
        assert page.status_code == 303
        assert (
            page.headers["location"]
            == f"/console/{merchant.slug}/login?next=/console/{merchant.slug}"
        )

        signed = await console.sign_in("owner", merchant.password)
        assert signed.status_code == 303, signed.text
        # The initial password leads to the account page to choose one's own.
        assert signed.headers["location"] == f"/console/{merchant.slug}/account"
        cookie = cookie_attributes(signed, "sp_session")
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert f"path=/console/{merchant.slug}" in cookie
        assert "secure" not in cookie  # the test deployment's public URL is plain http
        assert "expires=" in cookie

        dashboard = await console.get("")
        assert dashboard.status_code == 200
        assert "概览" in dashboard.text  # zh-CN by default
        token = console.http.cookies.get("sp_session")
        assert token

        out = await console.post("logout")
        assert out.status_code == 303
        assert out.headers["location"] == f"/console/{merchant.slug}/login"
        # The revoked session is dead even if the browser kept the cookie.
        console.http.cookies.set("sp_session", token, path=f"/console/{merchant.slug}")
        assert (await console.get("")).status_code == 303
        api = await client.get(
            f"{merchant.merchant}/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert api.status_code == 401


async def test_wrong_password_shows_the_form_again_and_locks_after_ten(
    client: httpx.AsyncClient, server: LiveServer
) -> None:
    merchant = await onboard(client)
    async with console_client(server.url, merchant.slug) as console:
        await console.get("login")
        wrong = await console.post("login", {"username": "owner", "password": "nope"})
        assert wrong.status_code == 401
        assert "用户名或密码错误" in wrong.text
        assert 'value="owner"' in wrong.text and "nope" not in wrong.text
        assert "sp_session" not in console.http.cookies
        for _ in range(9):
            await console.post("login", {"username": "owner", "password": "nope"})
        locked = await console.post("login", {"username": "owner", "password": merchant.password})
        assert locked.status_code == 429
        assert "15 分钟" in locked.text
        assert "sp_session" not in console.http.cookies


async def test_a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, server: LiveServer
) -> None:
    merchant = await onboard(client)
    async with signed_in(server.url, merchant) as console:
        # One character changed (to another one: a token may well end in "0").
        tampered = console.csrf[:-1] + ("1" if console.csrf.endswith("0") else "0")
        for token in (None, "0" * 64, tampered):
            data = {} if token is None else {"_csrf": token}
            refused = await console.post("features/echo/enable", data, csrf=False)
            assert refused.status_code == 403, refused.text
            assert 'data-code="csrf.invalid"' in refused.text
        header = await console.http.post(
            f"{console.base}/features/echo/enable", headers={"X-CSRF-Token": "f" * 64}
        )
        assert header.status_code == 403
        plugins = await client.get(f"{merchant.merchant}/plugins/", headers=merchant.auth)
        assert [p["enabled"] for p in plugins.json() if p["name"] == "echo"] == [False]

        # Another person's token does not open this session's forms.
        async with signed_in(server.url, merchant) as other:
            assert other.csrf != console.csrf
            stolen = await console.post("features/echo/enable", {"_csrf": other.csrf}, csrf=False)
            assert stolen.status_code == 403

        # The sign-in form has a token of its own, bound to the browser's nonce cookie.
        async with console_client(server.url, merchant.slug) as stranger:
            bare = await stranger.post(
                "login", {"username": "owner", "password": merchant.password}, csrf=False
            )
            assert bare.status_code == 403
            assert "sp_session" not in stranger.http.cookies

        # With the token (the form's field or htmx's header) the same request works.
        ok = await console.http.post(
            f"{console.base}/features/echo/enable",
            headers={"X-CSRF-Token": console.csrf, "HX-Request": "true"},
        )
        assert ok.status_code == 200, ok.text
        plugins = await client.get(f"{merchant.merchant}/plugins/", headers=merchant.auth)
        assert [p["enabled"] for p in plugins.json() if p["name"] == "echo"] == [True]


async def test_every_console_answer_carries_the_security_headers(
    client: httpx.AsyncClient, server: LiveServer
) -> None:
    merchant = await onboard(client)
    async with signed_in(server.url, merchant) as console:
        answers = [
            await console.get(""),  # a page
            await console.get("login"),  # signed in: a redirect
            await console.get("features/nope/enable"),  # an error page (405)
            await console.post("features/nope/enable"),  # 404 plugin.unknown
        ]
        async with console_client(server.url, merchant.slug) as stranger:
            answers.append(await stranger.get("login"))
            answers.append(await stranger.get("features"))  # redirect to sign in
        for answer in answers:
            assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
            assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["cache-control"] == "no-store"
            assert answer.headers["x-content-type-options"] == "nosniff"
        page = answers[0].text
        assert "<script>" not in page and " style=" not in page and "<style" not in page
        assert "/static/console/htmx-2.0.11.min.js?v=" in page

        static = await console.http.get(page.split('<script src="')[1].split('"')[0])
        assert static.status_code == 200
        assert "immutable" in static.headers["cache-control"]


async def test_changing_the_password_ends_the_other_sessions_api_included(
    client: httpx.AsyncClient, server: LiveServer
) -> None:
    merchant = await onboard(client)
    async with (
        signed_in(server.url, merchant) as console,
        signed_in(server.url, merchant) as elsewhere,
    ):
        await console.get("account")
        changed = await console.post(
            "account/password",
            {"current_password": merchant.password, "new_password": "a new password 1"},
        )
        assert changed.status_code == 303, changed.text
        assert changed.headers["location"] == f"{console.base}/account?changed=1"
        account = await console.get("account?changed=1")
        assert account.status_code == 200 and "密码已修改" in account.text
        assert (await elsewhere.get("")).status_code == 303  # signed out
        api = await client.get(f"{merchant.merchant}/auth/me", headers=merchant.auth)
        assert api.status_code == 401

        wrong = await console.post(
            "account/password",
            {"current_password": "not it at all", "new_password": "another one 22"},
        )
        assert wrong.status_code == 422
        assert "用户名或密码错误" in wrong.text or "current password is wrong" in wrong.text
        short = await console.post(
            "account/password", {"current_password": "a new password 1", "new_password": "short"}
        )
        assert short.status_code == 422
        assert "至少输入 10 个字符" in short.text


async def test_the_json_api_password_change_ends_the_other_bearer_sessions(
    client: httpx.AsyncClient,
) -> None:
    merchant = await onboard(client)
    second = await client.post(
        f"{merchant.merchant}/auth/login",
        json={"username": "owner", "password": merchant.password},
    )
    other = {"Authorization": f"Bearer {second.json()['token']}"}
    changed = await client.post(
        f"{merchant.merchant}/auth/password",
        json={"current_password": merchant.password, "new_password": "brand new password"},
        headers=merchant.auth,
    )
    assert changed.status_code == 200, changed.text
    assert (
        await client.get(f"{merchant.merchant}/auth/me", headers=merchant.auth)
    ).status_code == 200
    assert (await client.get(f"{merchant.merchant}/auth/me", headers=other)).status_code == 401


async def test_a_clerk_gets_a_403_page_and_another_tenants_session_gets_nothing(
    client: httpx.AsyncClient, server: LiveServer
) -> None:
    a, b = await onboard(client), await onboard(client)
    username, password = await staff_login(client, a, "clerk")
    async with signed_in(server.url, a, username, password) as clerk:
        page = await clerk.get("features")
        assert page.status_code == 403
        assert 'data-code="auth.role_required"' in page.text
        assert "你的角色无权访问此页面" in page.text
        dashboard = await clerk.get("")
        assert dashboard.status_code == 200
        assert f"/console/{a.slug}/features" not in dashboard.text  # not in the clerk's menu

    async with signed_in(server.url, a) as owner:
        # The cookie is scoped to A's console; sent to B's on purpose, it is unknown there.
        token = owner.http.cookies.get("sp_session")
        async with console_client(server.url, b.slug) as thief:
            thief.http.cookies.set("sp_session", token or "", path=f"/console/{b.slug}")
            for path in ("", "features", "account"):
                answer = await thief.get(path)
                assert answer.status_code == 303, (path, answer.text)
                assert answer.headers["location"].startswith(f"/console/{b.slug}/login")
            login = await thief.get("login")
            refused = await thief.post("features/echo/enable", {"_csrf": csrf_in(login.text)})
            assert refused.status_code == 303  # to the sign-in page: B does not know the session
        plugins = await client.get(f"{b.merchant}/plugins/", headers=b.auth)
        assert [p["enabled"] for p in plugins.json() if p["name"] == "echo"] == [False]


async def test_a_disabled_plugins_console_page_answers_404_plugin_disabled(
    client: httpx.AsyncClient, server: LiveServer
) -> None:
    merchant = await onboard(client)
    async with signed_in(server.url, merchant) as console:
        off = await console.get("echo")
        assert off.status_code == 404
        assert 'data-code="plugin.disabled"' in off.text
        assert f"/console/{merchant.slug}/echo" not in (await console.get("")).text

        assert (await enable(client, merchant, "echo", {"greeting": "你好"})).status_code == 200
        on = await console.get("echo")
        assert on.status_code == 200, on.text
        assert '<p data-testid="greeting">你好</p>' in on.text
        assert "已记录收费：0" in on.text  # the plugin's own catalog
        nav = (await console.get("")).text
        assert f'href="/console/{merchant.slug}/echo"' in nav  # console_nav of the plugin
        assert "营销" in nav


async def test_language_follows_the_browser_unless_the_person_chose_one(
    client: httpx.AsyncClient, server: LiveServer
) -> None:
    merchant = await onboard(client)
    async with signed_in(server.url, merchant, language="en-US,en;q=0.9") as console:
        page = await console.get("")
        assert "Dashboard" in page.text and '<html lang="en">' in page.text
        chosen = await console.post("account/locale", {"locale": "zh_CN"})
        assert chosen.status_code == 303
        assert "概览" in (await console.get("")).text
        bad = await console.post("account/locale", {"locale": "fr"})
        assert bad.status_code == 422
        assert (await client.get(f"{merchant.merchant}/auth/me", headers=merchant.auth)).json()[
            "locale"
        ] == "zh_CN"


async def test_an_error_page_that_cannot_render_falls_back_to_a_plain_one_with_its_status(
    client: httpx.AsyncClient, server: LiveServer
) -> None:
    merchant = await onboard(client)
    async with signed_in(server.url, merchant) as console:
        assert (await enable(client, merchant, "echo", {"greeting": BROKEN_NAV})).status_code == 200
        # Every page's menu now fails, the error pages' too: each keeps its own status.
        unknown = await console.post("features/nope/enable")
        assert unknown.status_code == 404
        assert unknown.text == "<!doctype html><title>404</title><p>404 plugin.unknown</p>"
        refused = await console.post("features/echo/disable", csrf=False)
        assert refused.status_code == 403
        assert "403 csrf.invalid" in refused.text
        broken = await console.get("")
        assert broken.status_code == 500
        assert "500 internal" in broken.text
        for answer in (unknown, refused, broken):
            assert answer.headers["content-type"].startswith("text/html")
            assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert answer.headers["cache-control"] == "no-store"
        plugins = await client.get(f"{merchant.merchant}/plugins/", headers=merchant.auth)
        assert [p["enabled"] for p in plugins.json() if p["name"] == "echo"] == [True]
