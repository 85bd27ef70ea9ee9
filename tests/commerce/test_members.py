"""Members on the storefront, signed in through the fake WeChat server: first login and the
member_registered hook, WeChat's errors, races, tenant walls, refresh rotation, phone binding,
profile and addresses."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select, update

from core.db import utcnow
from core.members.models import Member, MemberSession
from core.members.service import find_or_create
from core.members.tokens import AUDIENCE, _signing_key
from core.runtime import Runtime
from core.wechat import WeChat, WeChatError, token_cache_key
from storeplug.testing import SECRET, Merchant, enable, onboard, problem
from storeplug.testing.fakes.wechat import FakeApp, FakeWeChat, WxMember, connect_store, wx_login
from tests.plugins.echo.plugin import EVENTS

ADDRESS = {
    "name": "张三",
    "phone": "13800138000",
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "detail": "科技园 1 号",
}


async def open_store(
    client: httpx.AsyncClient, fake: FakeWeChat, *, echo: bool = True
) -> tuple[Merchant, FakeApp]:
    m = await onboard(client)
    if echo:
        assert (await enable(client, m, "echo")).status_code == 200
    return m, await connect_store(client, m, fake)


def registered(tenant_id: str) -> list[Any]:
    return [e[2] for e in EVENTS if e[0] == "member_registered" and e[1] == tenant_id]


async def login_raw(client: httpx.AsyncClient, m: Merchant, code: str) -> httpx.Response:
    return await client.post(f"{m.store}/auth/wx-login", json={"code": code})


async def count_members(rt: Runtime, m: Merchant, openid: str) -> int:
    async with rt.db.tenant_session(m.id) as session:
        found = await session.scalar(
            select(func.count()).select_from(Member).where(Member.openid == openid)
        )
    return found or 0


async def test_first_login_registers_once(
    client: httpx.AsyncClient, fake_wechat: FakeWeChat, rt: Runtime
) -> None:
    m, app = await open_store(client, fake_wechat)
    code = app.login_code(unionid="u-" + secrets.token_hex(4))
    first = await client.post(
        f"{m.store}/auth/wx-login", json={"code": code, "source": "share", "source_ref": "m-1"}
    )
    assert first.status_code == 200, first.text
    body = first.json()
    member = body["member"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 7200
    assert body["refresh_token"].startswith("spr_")
    assert member["source"] == "share"
    assert member["level"] is None
    # WeChat's openid and session_key stay on the server.
    login = app.codes[code]
    assert login.openid not in first.text
    assert login.session_key not in first.text
    assert registered(m.id) == [(member["id"], "share", "m-1")]  # member_registered, once

    again = await wx_login(client, m, app, openid=login.openid, source="leader", source_ref="x")
    assert again.id == member["id"]
    assert again.body["member"]["source"] == "share"
    assert len(registered(m.id)) == 1
    assert await count_members(rt, m, login.openid) == 1
    me = await client.get(f"{m.store}/me", headers=again.auth)
    assert me.status_code == 200
    assert me.json()["id"] == member["id"]

    # The same WeChat user in another store is another member there; no echo, no event.
    other, other_app = await open_store(client, fake_wechat, echo=False)
    there = await wx_login(client, other, other_app, openid=login.openid)
    assert there.id != member["id"]
    assert registered(other.id) == []


async def test_wechat_errors(client: httpx.AsyncClient, fake_wechat: FakeWeChat) -> None:
    m, app = await open_store(client, fake_wechat)
    problem(await login_raw(client, m, "never-issued"), 400, "wechat.invalid_code")
    code = app.login_code()
    assert (await login_raw(client, m, code)).status_code == 200
    problem(await login_raw(client, m, code), 400, "wechat.invalid_code")  # 40163, used
    for body in ({}, {"code": ""}, {"code": "x" * 200}, {"code": "a b"}, {"code": 5}):
        bad = await client.post(f"{m.store}/auth/wx-login", json=body)
        assert problem(bad, 400, "request.invalid")["errors"][0]["field"] == "code"
    bad_source = await client.post(
        f"{m.store}/auth/wx-login", json={"code": app.login_code(), "source": "spam"}
    )
    assert problem(bad_source, 400, "request.invalid")["errors"][0]["field"] == "source"

    app.fail_next(-1)
    problem(await login_raw(client, m, app.login_code()), 502, "wechat.unavailable")
    app.minute_quota = 1
    app._window = (0, 0)
    assert (await login_raw(client, m, app.login_code())).status_code == 200
    limited = await login_raw(client, m, app.login_code())
    problem(limited, 429, "wechat.rate_limited")
    assert limited.headers["retry-after"] == "60"
    app.minute_quota = None

    bare = await onboard(client)
    problem(await login_raw(client, bare, "any"), 409, "wechat.not_configured")
    # Credentials WeChat does not accept: an AppID it does not know, or a wrong secret.
    for appid, secret in (
        ("wx" + secrets.token_hex(8), secrets.token_hex(16)),
        (app.appid, secrets.token_hex(16)),
    ):
        other = await onboard(client)
        saved = await client.put(
            f"{other.merchant}/settings/store",
            json={"wechat_appid": appid, "wechat_secret": secret},
            headers=other.auth,
        )
        assert saved.status_code == 200
        problem(await login_raw(client, other, app.login_code()), 409, "wechat.invalid_credentials")


async def test_wechat_client_errors(fake_wechat: FakeWeChat) -> None:
    app = fake_wechat.register_app()
    async with WeChat(fake_wechat.url) as wx:
        code = app.login_code(openid="o-client", unionid="u-client")
        session = await wx.jscode2session(app.appid, app.secret, code)
        assert (session.openid, session.unionid) == ("o-client", "u-client")
        with pytest.raises(WeChatError) as used:
            await wx.jscode2session(app.appid, app.secret, code)
        assert (used.value.errcode, used.value.code) == (40163, "wechat.invalid_code")
        with pytest.raises(WeChatError) as bad_secret:
            await wx.jscode2session(app.appid, "0" * 32, app.login_code())
        assert (bad_secret.value.errcode, bad_secret.value.status) == (40125, 409)
    # Nobody listens on this port: the network error is a 502, not a 500.
    async with WeChat("http://127.0.0.1:9", timeout=httpx.Timeout(2.0)) as down:
        with pytest.raises(WeChatError) as unreachable:
            await down.jscode2session(app.appid, app.secret, app.login_code())
    assert (unreachable.value.code, unreachable.value.status) == ("wechat.unavailable", 502)


async def test_concurrent_first_logins_make_one_member(
    client: httpx.AsyncClient, fake_wechat: FakeWeChat, rt: Runtime
) -> None:
    m, app = await open_store(client, fake_wechat)
    openid = "o-race-" + secrets.token_hex(6)
    codes = [app.login_code(openid) for _ in range(6)]
    responses = await asyncio.gather(*(login_raw(client, m, code) for code in codes))
    assert [r.status_code for r in responses] == [200] * len(codes), [r.text for r in responses]
    assert len({r.json()["member"]["id"] for r in responses}) == 1
    assert await count_members(rt, m, openid) == 1
    assert len(registered(m.id)) == 1


async def test_find_or_create_loser_reads_the_winner(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    """The race made certain: the second transaction looks before the first commits."""
    m = await onboard(client)
    tenant = await rt.tenants.resolve(m.slug)
    openid = "o-held-" + secrets.token_hex(6)

    async def second() -> tuple[str, bool]:
        async with rt.tenant_context(tenant) as ctx:
            member, created = await find_or_create(ctx, openid, None, "direct", "")
            return member.id, created

    async with rt.tenant_context(tenant) as ctx:
        winner, created = await find_or_create(ctx, openid, None, "scan", "store-1")
        assert created
        task = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        assert not task.done()  # waiting on the unique index (PostgreSQL) or the lock (SQLite)
    assert await task == (winner.id, False)
    assert await count_members(rt, m, openid) == 1


async def test_tokens_belong_to_one_store(
    client: httpx.AsyncClient, fake_wechat: FakeWeChat
) -> None:
    a, app_a = await open_store(client, fake_wechat)
    b, _ = await open_store(client, fake_wechat)
    member = await wx_login(client, a, app_a)
    assert (await client.get(f"{a.store}/me", headers=member.auth)).status_code == 200
    problem(await client.get(f"{b.store}/me", headers=member.auth), 401, "auth.invalid_token")
    problem(await client.get(f"{a.store}/me"), 401, "auth.required")
    forged = {"Authorization": "Bearer not.a.token"}
    problem(await client.get(f"{a.store}/me", headers=forged), 401, "auth.invalid_token")
    past = int((utcnow() - timedelta(minutes=1)).timestamp())
    claims = {"sub": member.id, "tid": a.id, "aud": AUDIENCE, "iat": past - 60, "exp": past}
    expired = jwt.encode(claims, _signing_key(SECRET), algorithm="HS256")
    response = await client.get(f"{a.store}/me", headers={"Authorization": f"Bearer {expired}"})
    problem(response, 401, "auth.token_expired")
    # A store's refresh token is unknown in another store.
    refresh = await client.post(
        f"{b.store}/auth/refresh", json={"refresh_token": member.refresh_token}
    )
    problem(refresh, 401, "auth.invalid_refresh")


async def member_routes(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    """Every storefront route under /me, from the OpenAPI document (new ones included)."""
    schema = (await client.get("/schema/openapi.json")).json()
    prefix = "/store/{tenant_slug}/v1/me"
    return sorted(
        (method.upper(), path.removeprefix("/store/{tenant_slug}/v1"))
        for path, item in schema["paths"].items()
        if path == prefix or path.startswith(prefix + "/")
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )


BODIES: dict[str, Any] = {"PATCH": {"name": "hacked"}, "POST": {}, "PUT": {}}


async def test_members_never_reach_each_other(
    client: httpx.AsyncClient, fake_wechat: FakeWeChat
) -> None:
    m, app = await open_store(client, fake_wechat)
    other_store, other_app = await open_store(client, fake_wechat)
    alice = await wx_login(client, m, app)
    bob = await wx_login(client, m, app)
    stranger = await wx_login(client, other_store, other_app)
    made = await client.post(f"{m.store}/me/addresses", json=ADDRESS, headers=alice.auth)
    assert made.status_code == 201, made.text
    alice_address = made.json()

    routes = await member_routes(client)
    assert ("DELETE", "/me/addresses/{address_id}") in routes
    assert ("POST", "/me/phone") in routes
    for method, path in routes:
        url = m.store + path.replace("{address_id}", alice_address["id"])
        body = BODIES.get(method)
        for headers in ({}, stranger.auth):
            denied = await client.request(method, url, json=body, headers=headers)
            assert denied.status_code == 401, (method, path, denied.text)
        if "{address_id}" in path:
            theirs = await client.request(method, url, json=body, headers=bob.auth)
            problem(theirs, 404, "address.not_found")
    assert (await client.get(f"{m.store}/me/addresses", headers=bob.auth)).json() == []
    mine = await client.get(f"{m.store}/me/addresses", headers=alice.auth)
    assert mine.json() == [alice_address]
    # The body cannot name a member either.
    sneaky = await client.patch(f"{m.store}/me", json={"id": alice.id}, headers=bob.auth)
    problem(sneaky, 400, "request.invalid")
    assert (await client.get(f"{m.store}/me", headers=bob.auth)).json()["id"] == bob.id


async def refresh(client: httpx.AsyncClient, m: Merchant, token: str) -> httpx.Response:
    return await client.post(f"{m.store}/auth/refresh", json={"refresh_token": token})


async def test_refresh_rotation_and_logout(
    client: httpx.AsyncClient, fake_wechat: FakeWeChat, rt: Runtime
) -> None:
    m, app = await open_store(client, fake_wechat)
    member = await wx_login(client, m, app)
    first = await refresh(client, m, member.refresh_token)
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != member.refresh_token
    assert rotated["member"]["id"] == member.id
    new_auth = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert (await client.get(f"{m.store}/me", headers=new_auth)).status_code == 200
    # The old token is spent. Right after the rotation that is all (two refreshes sent at
    # once); later, a spent token coming back means it was stolen: every session ends.
    problem(await refresh(client, m, member.refresh_token), 401, "auth.invalid_refresh")
    async with rt.db.tenant_session(m.id) as db:
        await db.execute(
            update(MemberSession)
            .where(MemberSession.revoked_at.is_not(None))
            .values(revoked_at=utcnow() - timedelta(minutes=5))
        )
    other_device = await wx_login(client, m, app, openid=member.openid)
    problem(await refresh(client, m, member.refresh_token), 401, "auth.invalid_refresh")
    problem(await refresh(client, m, rotated["refresh_token"]), 401, "auth.invalid_refresh")
    problem(await refresh(client, m, other_device.refresh_token), 401, "auth.invalid_refresh")

    # Refreshes racing with one token: one wins, and the winner's session lives on.
    racer = await wx_login(client, m, app, openid=member.openid)
    raced = await asyncio.gather(*(refresh(client, m, racer.refresh_token) for _ in range(4)))
    assert sorted(r.status_code for r in raced) == [200, 401, 401, 401]
    winner = next(r.json() for r in raced if r.status_code == 200)
    assert (await refresh(client, m, winner["refresh_token"])).status_code == 200

    # Logout ends the session; an unknown token is no error.
    session = await wx_login(client, m, app, openid=member.openid)
    out = await client.post(f"{m.store}/auth/logout", json={"refresh_token": session.refresh_token})
    assert out.status_code == 204
    problem(await refresh(client, m, session.refresh_token), 401, "auth.invalid_refresh")
    unknown = await client.post(f"{m.store}/auth/logout", json={"refresh_token": "spr_nope"})
    assert unknown.status_code == 204

    # An expired refresh token is refused; only hashes are stored.
    late = await wx_login(client, m, app, openid=member.openid)
    async with rt.db.tenant_session(m.id) as db:
        hashes = (await db.scalars(select(MemberSession.refresh_hash))).all()
        assert late.refresh_token not in hashes
        await db.execute(
            update(MemberSession)
            .where(MemberSession.revoked_at.is_(None))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    problem(await refresh(client, m, late.refresh_token), 401, "auth.invalid_refresh")


async def test_phone_binding(
    client: httpx.AsyncClient, fake_wechat: FakeWeChat, rt: Runtime
) -> None:
    m, app = await open_store(client, fake_wechat)
    member = await wx_login(client, m, app)
    code = app.phone_code("13912345678")
    bound = await client.post(f"{m.store}/me/phone", json={"code": code}, headers=member.auth)
    assert bound.status_code == 200, bound.text
    assert bound.json()["phone"] == "13912345678"
    again = await client.post(f"{m.store}/me/phone", json={"code": code}, headers=member.auth)
    problem(again, 400, "wechat.invalid_code")
    abroad = app.phone_code("61234567", country_code="852")
    hk = await client.post(f"{m.store}/me/phone", json={"code": abroad}, headers=member.auth)
    assert hk.json()["phone"] == "+85261234567"
    assert app.token_requests == 1  # the access token is cached
    if rt.redis is not None:
        assert await rt.redis.exists(token_cache_key(app.appid, app.secret)) == 1

    fake_wechat.revoke_tokens(app.appid)  # another server took a new token
    code = app.phone_code("13700000000")
    retried = await client.post(f"{m.store}/me/phone", json={"code": code}, headers=member.auth)
    assert retried.status_code == 200, retried.text
    assert retried.json()["phone"] == "13700000000"
    assert app.token_requests == 2
    app.fail_next(-1)
    code = app.phone_code("13600000000")
    busy = await client.post(f"{m.store}/me/phone", json={"code": code}, headers=member.auth)
    problem(busy, 502, "wechat.unavailable")
    me = (await client.get(f"{m.store}/me", headers=member.auth)).json()
    assert me["phone"] == "13700000000"


async def test_logged_in_helper_is_a_shopper(
    client: httpx.AsyncClient, fake_wechat: FakeWeChat
) -> None:
    """What other tests use: ``connect_store`` + ``wx_login`` give a real signed-in member."""
    m, app = await open_store(client, fake_wechat, echo=False)
    member: WxMember = await wx_login(client, m, app)
    assert member.auth == {"Authorization": f"Bearer {member.token}"}
    assert (await client.get(f"{m.store}/me", headers=member.auth)).json()["id"] == member.id
