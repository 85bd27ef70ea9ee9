"""A fake WeChat API server for the tests: a real HTTP server on a loopback port that speaks
WeChat's protocol for the three calls storeplug makes. It is started once per test session
(``fake_wechat``, used by ``storeplug.testing``), and every runtime's ``wechat_base_url``
points at it.

WeChat's semantics, as the real server has them:

- ``GET /sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code`` answers
  ``text/plain`` JSON: ``{openid, session_key, unionid?}``, or ``{errcode, errmsg}``: 41002 /
  40013 for a missing / unknown appid, 41004 / 40125 for a missing / wrong secret, 40002 for a
  wrong grant_type, 41008 for no code, 40029 for an unknown code, 40163 for a code used
  before, 45011 past the app's minute quota.
- ``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`` → ``{access_token,
  expires_in: 7200}``; the same appid and secret errors.
- ``POST /wxa/business/getuserphonenumber?access_token=`` with ``{"code": ...}`` →
  ``{errcode: 0, errmsg: "ok", phone_info: {...}}``; 41001 without a token, 40001 for an
  unknown or revoked one, 42001 for an expired one, 40029 for an unknown or used code.
- ``POST /cgi-bin/message/subscribe/send?access_token=`` with ``{touser, template_id, page?,
  data, miniprogram_state?, lang?}`` → ``{errcode: 0, errmsg: "ok"}``; the same token errors;
  40003 for an openid this app never saw, 40037 for a template the app does not have, 47003
  when a key of the template is missing, empty, or does not fit its type (``thing`` ≤ 20
  characters, ``character_string`` ≤ 32 letters/digits/symbols, ...: ``VALUE_RULES``), 41030
  for a page the app does not have (when the app lists its pages), 43101 when the user holds
  no subscription for the template (one-time ones are used up by each message), 45009 past
  the app's daily quota.

How a test uses it (each test registers its own app, so tests never share state)::

    from storeplug.testing.fakes.wechat import FakeWeChat, connect_store, wx_login

    async def test_x(client: httpx.AsyncClient, fake_wechat: FakeWeChat) -> None:
        merchant = await onboard(client)
        app = await connect_store(client, merchant, fake_wechat)  # saves appid + secret
        member = await wx_login(client, merchant, app)  # a new openid each call
        await client.get(f"{merchant.store}/me", headers=member.auth)

``app.login_code(openid)`` registers a one-time ``wx.login`` code, ``app.phone_code(phone)``
a ``getPhoneNumber`` code, ``app.minute_quota = n`` a rate limit, ``app.fail_next(-1)`` an
injected error, and ``fake_wechat.revoke_tokens(appid)`` makes WeChat refuse the issued
access tokens (as when another server fetched a newer one). For subscribe messages,
``app.add_template(["thing1", "time2"])`` creates a template and returns its id,
``app.subscribe(openid, template_id)`` is the user tapping "allow" (``always=True`` for a
long-term template), ``app.fail_next_send(45009)`` injects an answer to the next send, and
``app.messages`` holds every message delivered.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
from litestar import Litestar, Request, Response, get, post

from storeplug.testing.helpers import Merchant, Shopper

TOKEN_TTL = 7200


@dataclass
class FakeLogin:
    openid: str
    unionid: str | None
    session_key: str


@dataclass
class FakeMessage:
    touser: str
    template_id: str
    page: str
    data: dict[str, str]  # key -> value
    miniprogram_state: str
    lang: str


def _units(text: str) -> int:
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


_CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
_SYMBOLS = r"!-/:-@\[-`{-~"
# What WeChat accepts per keyword type (its documented limits), by the key's prefix.
VALUE_RULES: dict[str, Any] = {
    "thing": lambda v: _units(v) <= 20,
    "short_thing": lambda v: _units(v) <= 5,
    "character_string": lambda v: re.fullmatch(rf"[0-9A-Za-z{_SYMBOLS}]{{1,32}}", v),
    "number": lambda v: re.fullmatch(r"[0-9]+(\.[0-9]+)?", v) and len(v) <= 32,
    "letter": lambda v: re.fullmatch(r"[A-Za-z]{1,32}", v),
    "symbol": lambda v: re.fullmatch(rf"[{_SYMBOLS}]{{1,5}}", v),
    "amount": lambda v: re.fullmatch(r"[¥￥$€]?-?[0-9]{1,10}(\.[0-9]{1,2})?元?", v),
    "time": lambda v: re.fullmatch(
        r"([0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日 ?)?[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?"
        r"(~.+)?|[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})?",
        v,
    ),
    "date": lambda v: re.fullmatch(
        r"[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日( [0-9]{1,2}:[0-9]{2})?(~.+)?"
        r"|[0-9]{4}-[0-9]{2}-[0-9]{2}",
        v,
    ),
    "phone_number": lambda v: re.fullmatch(r"[0-9+\-() ]{1,17}", v),
    "car_number": lambda v: len(v) <= 8,
    "name": lambda v: (
        _units(v) <= 10 if re.search(rf"[{_CJK}]", v) else re.fullmatch(r"[A-Za-z .·-]{1,20}", v)
    ),
    "phrase": lambda v: re.fullmatch(rf"[{_CJK}]{{1,5}}", v),
}
_KEY = re.compile(r"^([a-z_]+?)([0-9]+)$")


def value_fits(key: str, value: str) -> bool:
    match = _KEY.match(key)
    rule = VALUE_RULES.get(match.group(1)) if match else None
    return bool(rule(value)) if rule is not None else bool(value)


@dataclass
class FakeApp:
    """A mini-program registered with the fake: its credentials, codes and counters."""

    appid: str
    secret: str
    codes: dict[str, FakeLogin] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    phone_codes: dict[str, str] = field(default_factory=dict)
    minute_quota: int | None = None  # jscode2session calls allowed per minute
    injected: list[int] = field(default_factory=list)
    token_requests: int = 0
    login_requests: int = 0
    _window: tuple[int, int] = (0, 0)  # (minute, calls in it)
    # Subscribe messages: template id -> its keys; (openid, template) -> one-time messages left;
    # the long-term subscriptions; the app's pages (None: any page); what was delivered.
    templates: dict[str, list[str]] = field(default_factory=dict)
    quota: dict[tuple[str, str], int] = field(default_factory=dict)
    always: set[tuple[str, str]] = field(default_factory=set)
    pages: set[str] | None = None
    daily_quota: int | None = None
    send_errors: list[int] = field(default_factory=list)
    send_requests: int = 0
    messages: list[FakeMessage] = field(default_factory=list)

    def login_code(self, openid: str | None = None, unionid: str | None = None) -> str:
        """A fresh ``wx.login`` code for ``openid`` (a new user's when None)."""
        code = "0" + secrets.token_hex(15)
        self.codes[code] = FakeLogin(
            openid=openid or f"o{secrets.token_urlsafe(20)}",
            unionid=unionid,
            session_key=secrets.token_urlsafe(16),
        )
        return code

    def openid_of(self, code: str) -> str:
        return self.codes[code].openid

    def phone_code(self, phone: str, country_code: str = "86") -> str:
        code = "p" + secrets.token_hex(15)
        self.phone_codes[code] = f"{country_code}:{phone}"
        return code

    def fail_next(self, errcode: int) -> None:
        """The next call for this app answers ``errcode`` (e.g. -1, system busy)."""
        self.injected.append(errcode)

    def add_template(self, keys: list[str]) -> str:
        """A subscribe-message template of this app with these keys; its id."""
        template_id = secrets.token_urlsafe(32)
        self.templates[template_id] = list(keys)
        return template_id

    def subscribe(self, openid: str, template_id: str, *, always: bool = False) -> None:
        """The user allowed one message of ``template_id`` (or, long-term, all of them)."""
        if always:
            self.always.add((openid, template_id))
        else:
            self.quota[(openid, template_id)] = self.quota.get((openid, template_id), 0) + 1

    def fail_next_send(self, errcode: int) -> None:
        """The next subscribe/send answers ``errcode`` (-1 busy, 45009 quota, ...)."""
        self.send_errors.append(errcode)

    def known_openids(self) -> set[str]:
        return {login.openid for login in self.codes.values()}

    def _over_quota(self) -> bool:
        if self.minute_quota is None:
            return False
        minute = int(time.time() // 60)
        current, calls = self._window
        calls = calls + 1 if current == minute else 1
        self._window = (minute, calls)
        return calls > self.minute_quota


def _body(payload: dict[str, Any], media_type: str = "application/json") -> Response[bytes]:
    return Response(content=msgspec.json.encode(payload), media_type=media_type, status_code=200)


def _err(errcode: int, errmsg: str, media_type: str = "application/json") -> Response[bytes]:
    rid = secrets.token_hex(6)
    return _body({"errcode": errcode, "errmsg": f"{errmsg} rid: {rid}"}, media_type)


class FakeWeChat:
    def __init__(self) -> None:
        self.url = ""
        self.apps: dict[str, FakeApp] = {}
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (appid, expiry)

    def register_app(self) -> FakeApp:
        app = FakeApp(appid="wx" + secrets.token_hex(8), secret=secrets.token_hex(16))
        self.apps[app.appid] = app
        return app

    def revoke_tokens(self, appid: str) -> None:
        for token, (owner, _) in list(self.tokens.items()):
            if owner == appid:
                del self.tokens[token]

    def expire_tokens(self, appid: str) -> None:
        for token, (owner, _) in list(self.tokens.items()):
            if owner == appid:
                self.tokens[token] = (owner, time.time() - 1)

    def _credentials(self, appid: str, secret: str, media_type: str) -> FakeApp | Response[bytes]:
        if not appid:
            return _err(41002, "appid missing", media_type)
        app = self.apps.get(appid)
        if app is None:
            return _err(40013, "invalid appid", media_type)
        if not secret:
            return _err(41004, "appsecret missing", media_type)
        if not secrets.compare_digest(secret, app.secret):
            return _err(40125, "invalid appsecret", media_type)
        if app.injected:
            errcode = app.injected.pop(0)
            return _err(errcode, "system error" if errcode == -1 else "injected", media_type)
        return app

    def app(self) -> Litestar:
        fake = self

        @get("/sns/jscode2session")
        async def jscode2session(request: Request[Any, Any, Any]) -> Response[bytes]:
            q = request.query_params
            text = "text/plain"  # what WeChat really sends for this API
            found = fake._credentials(q.get("appid", ""), q.get("secret", ""), text)
            if isinstance(found, Response):
                return found
            found.login_requests += 1
            if q.get("grant_type") != "authorization_code":
                return _err(40002, "invalid grant_type", text)
            if found._over_quota():
                return _err(
                    45011, "api minute-quota reach limit  mustslower  retry next minute", text
                )
            code = q.get("js_code", "")
            if not code:
                return _err(41008, "missing code", text)
            if code in found.used:
                return _err(40163, "code been used", text)
            login = found.codes.get(code)
            if login is None:
                return _err(40029, "invalid code", text)
            found.used.add(code)
            body: dict[str, Any] = {"session_key": login.session_key, "openid": login.openid}
            if login.unionid:
                body["unionid"] = login.unionid
            return _body(body, text)

        @get("/cgi-bin/token")
        async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
            q = request.query_params
            if q.get("grant_type") != "client_credential":
                return _err(40002, "invalid grant_type")
            found = fake._credentials(q.get("appid", ""), q.get("secret", ""), "application/json")
            if isinstance(found, Response):
                return found
            found.token_requests += 1
            issued = secrets.token_urlsafe(48)
            fake.tokens[issued] = (found.appid, time.time() + TOKEN_TTL)
            return _body({"access_token": issued, "expires_in": TOKEN_TTL})

        @post("/wxa/business/getuserphonenumber", status_code=200)
        async def phone(request: Request[Any, Any, Any]) -> Response[bytes]:
            app = fake._token_owner(request.query_params.get("access_token", ""))
            if isinstance(app, Response):
                return app
            appid = app.appid
            if app.injected:
                return _err(app.injected.pop(0), "system error")
            try:
                code = msgspec.json.decode(await request.body()).get("code", "")
            except (msgspec.DecodeError, AttributeError):
                return _err(47001, "data format error")
            number = app.phone_codes.pop(code, None) if isinstance(code, str) else None
            if number is None:
                return _err(40029, "invalid code")
            country, pure = number.split(":", 1)
            return _body(
                {
                    "errcode": 0,
                    "errmsg": "ok",
                    "phone_info": {
                        "phoneNumber": pure if country == "86" else f"+{country}{pure}",
                        "purePhoneNumber": pure,
                        "countryCode": country,
                        "watermark": {"timestamp": int(time.time()), "appid": appid},
                    },
                }
            )

        @post("/cgi-bin/message/subscribe/send", status_code=200)
        async def subscribe_send(request: Request[Any, Any, Any]) -> Response[bytes]:
            found = fake._token_owner(request.query_params.get("access_token", ""))
            if isinstance(found, Response):
                return found
            found.send_requests += 1
            if found.send_errors:
                errcode = found.send_errors.pop(0)
                return _err(errcode, "system error" if errcode == -1 else "injected")
            try:
                body = msgspec.json.decode(await request.body())
            except msgspec.DecodeError:
                return _err(47001, "data format error")
            if not isinstance(body, dict):
                return _err(47001, "data format error")
            return fake._send(found, body)

        return Litestar(
            [jscode2session, token, phone, subscribe_send], openapi_config=None, debug=False
        )

    def _token_owner(self, access_token: str) -> FakeApp | Response[bytes]:
        if not access_token:
            return _err(41001, "access_token missing")
        held = self.tokens.get(access_token)
        if held is None:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        appid, expiry = held
        if expiry <= time.time():
            return _err(42001, "access_token expired")
        return self.apps[appid]

    def _send(self, app: FakeApp, body: dict[str, Any]) -> Response[bytes]:
        touser, template_id = body.get("touser"), body.get("template_id")
        if not isinstance(touser, str) or touser not in app.known_openids():
            return _err(40003, "invalid openid")
        if not isinstance(template_id, str) or template_id not in app.templates:
            return _err(40037, "invalid template_id")
        data = body.get("data")
        if not isinstance(data, dict):
            return _err(47003, "argument invalid! data is empty")
        values: dict[str, str] = {}
        for key in app.templates[template_id]:
            item = data.get(key)
            value = item.get("value") if isinstance(item, dict) else None
            if not isinstance(value, str) or not value:
                return _err(47003, f"argument invalid! data.{key}.value is empty")
            if not value_fits(key, value):
                return _err(47003, f"argument invalid! data.{key}.value invalid")
            values[key] = value
        page = body.get("page", "")
        if not isinstance(page, str) or (
            page and app.pages is not None and page.split("?", 1)[0] not in app.pages
        ):
            return _err(41030, "invalid page")
        state = body.get("miniprogram_state", "formal")
        lang = body.get("lang", "zh_CN")
        if state not in ("developer", "trial", "formal"):
            return _err(47003, "argument invalid! miniprogram_state invalid")
        if lang not in ("zh_CN", "en_US", "zh_HK", "zh_TW"):
            return _err(47003, "argument invalid! lang invalid")
        if app.daily_quota is not None and len(app.messages) >= app.daily_quota:
            return _err(45009, "reach max api daily quota limit")
        held = (touser, template_id)
        if held not in app.always:
            if app.quota.get(held, 0) <= 0:
                return _err(43101, "user refuse to accept the msg")
            app.quota[held] -= 1
        app.messages.append(
            FakeMessage(
                touser=touser,
                template_id=template_id,
                page=page,
                data=values,
                miniprogram_state=str(state),
                lang=str(lang),
            )
        )
        return _body({"errcode": 0, "errmsg": "ok"})


# ---- helpers for tests that need a signed-in member ---------------------------------------


@dataclass
class WxMember(Shopper):
    """A member signed in through ``POST /auth/wx-login`` (``.auth`` is the bearer header)."""

    openid: str
    refresh_token: str
    body: dict[str, Any]


async def connect_store(client: httpx.AsyncClient, merchant: Merchant, fake: FakeWeChat) -> FakeApp:
    """Register a mini-program with the fake and save its credentials as the store owner."""
    app = fake.register_app()
    response = await client.put(
        f"{merchant.merchant}/settings/store",
        json={"wechat_appid": app.appid, "wechat_secret": app.secret},
        headers=merchant.auth,
    )
    assert response.status_code == 200, response.text
    return app


async def wx_login(
    client: httpx.AsyncClient,
    merchant: Merchant,
    app: FakeApp,
    *,
    openid: str | None = None,
    source: str | None = None,
    source_ref: str | None = None,
) -> WxMember:
    """Sign in through the fake (a new member unless ``openid`` names a known one)."""
    code = app.login_code(openid)
    payload: dict[str, Any] = {"code": code}
    if source is not None:
        payload["source"] = source
    if source_ref is not None:
        payload["source_ref"] = source_ref
    response = await client.post(f"{merchant.store}/auth/wx-login", json=payload)
    assert response.status_code == 200, response.text
    body = response.json()
    return WxMember(
        id=body["member"]["id"],
        token=body["access_token"],
        openid=app.openid_of(code),
        refresh_token=body["refresh_token"],
        body=body,
    )
