"""The WeChat mini-program server API: login (``jscode2session``), the app access token, the
buyer's phone number (``getuserphonenumber``) and subscribe messages
(``cgi-bin/message/subscribe/send``).

WeChat answers HTTP 200 with ``errcode``/``errmsg`` in the body when something is wrong, and
``jscode2session`` even says ``text/plain``; every body is read as JSON whatever its type.
Errors become problems with stable codes:

- ``wechat.invalid_code`` (400): the code is unknown, expired or already used (40029, 40163);
- ``wechat.rate_limited`` (429): the app's minute quota is spent (45011);
- ``wechat.user_blocked`` (403): WeChat marks the user high-risk (40226);
- ``wechat.invalid_credentials`` (409): WeChat rejected the store's AppID or AppSecret;
- ``wechat.unavailable`` (502): system busy (-1), timeouts, network errors, anything else.

The login and phone routes call this while the buyer waits, and the notification sender
from its job; hooks never do. A ``WeChat`` lives for one request or job (``async with
WeChat.of(runtime) as wx``); its calls share one connection. The access token is cached per
AppID (and AppSecret) until five minutes before it expires: in Redis when there is one, so
every worker shares it, else in the process. A call WeChat refuses for its token (40001,
42001) fetches a fresh one and is made once more.

``subscribe_send`` does not turn WeChat's answer into a problem: the sender decides what each
code means for the notice (``SendResult``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
from redis.asyncio import Redis

from core.errors import AppError

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("storeplug.wechat")

TIMEOUT = httpx.Timeout(5.0, connect=3.0)
TOKEN_MARGIN_S = 300  # refresh an access token this long before WeChat expires it

INVALID_CODE = frozenset({40029, 40163})
RATE_LIMITED = frozenset({45011})
USER_BLOCKED = frozenset({40226})
BAD_CREDENTIALS = frozenset({40013, 40125, 41002, 41004, 40164})
BAD_TOKEN = frozenset({40001, 40014, 42001})  # invalid / malformed / expired access token


class WxSession(msgspec.Struct, frozen=True, kw_only=True):
    """What ``jscode2session`` returns. The session_key stays on the server, never sent on."""

    openid: str
    session_key: str
    unionid: str | None = None


class PhoneInfo(msgspec.Struct, frozen=True, kw_only=True):
    phone_number: str  # with the country code, as WeChat gives it
    pure_phone_number: str  # without it
    country_code: str


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    """WeChat's answer to one subscribe message: ``errcode`` 0 is delivered."""

    errcode: int
    errmsg: str = ""


class WeChatError(AppError):
    """WeChat said no, or could not be reached. ``errcode`` is WeChat's, or None."""

    def __init__(
        self,
        detail: str,
        *,
        code: str,
        status: int,
        errcode: int | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail, code=code, status=status, headers=headers)
        self.errcode = errcode


def error_for(errcode: int, errmsg: str, api: str) -> WeChatError:
    """WeChat's ``errcode`` as one of our problems."""
    detail = f"WeChat {api}: {errcode} {errmsg}".strip()
    if errcode in INVALID_CODE:
        return WeChatError(
            "the login code is invalid, expired or already used; call wx.login again",
            code="wechat.invalid_code",
            status=400,
            errcode=errcode,
        )
    if errcode in RATE_LIMITED:
        return WeChatError(
            "WeChat's rate limit for this store is reached; retry in a minute",
            code="wechat.rate_limited",
            status=429,
            errcode=errcode,
            headers={"Retry-After": "60"},  # WeChat's quota is per minute
        )
    if errcode in USER_BLOCKED:
        return WeChatError(
            "WeChat refuses to sign in this user",
            code="wechat.user_blocked",
            status=403,
            errcode=errcode,
        )
    if errcode in BAD_CREDENTIALS:
        log.warning("store WeChat credentials rejected: %s", detail)
        return WeChatError(
            "WeChat rejected the store's AppID or AppSecret",
            code="wechat.invalid_credentials",
            status=409,
            errcode=errcode,
        )
    log.warning("WeChat error: %s", detail)
    return WeChatError(
        f"WeChat is unavailable ({errcode})", code="wechat.unavailable", status=502, errcode=errcode
    )


def unavailable(reason: str) -> WeChatError:
    return WeChatError(
        f"WeChat is unavailable ({reason})", code="wechat.unavailable", status=502, errcode=None
    )


def _errcode(data: dict[str, Any]) -> int:
    """WeChat's errcode in an answer: 0 when absent, -1 when it is not a number."""
    errcode = data.get("errcode", 0)
    if errcode is None:
        return 0
    return errcode if isinstance(errcode, int) and not isinstance(errcode, bool) else -1


# ---- the access token cache ------------------------------------------------------------


def token_cache_key(appid: str, secret: str) -> str:
    """One Redis cluster slot per app (the hash tag). The secret's digest is part of the key,
    so a store that names another store's AppID with a wrong secret never gets its token."""
    digest = hashlib.sha256(f"{appid}:{secret}".encode()).hexdigest()[:16]
    return f"sp:{{wx:{appid}}}:access_token:{digest}"


class _LocalTokens:
    """The in-process cache (no Redis): key -> (token, monotonic expiry)."""

    def __init__(self) -> None:
        self.tokens: dict[str, tuple[str, float]] = {}
        self.locks: dict[str, asyncio.Lock] = {}

    def get(self, key: str) -> str | None:
        hit = self.tokens.get(key)
        if hit is None or hit[1] <= time.monotonic():
            return None
        return hit[0]

    def lock(self, key: str) -> asyncio.Lock:
        return self.locks.setdefault(key, asyncio.Lock())


_LOCAL = _LocalTokens()


def _cache_ttl(expires_in: int) -> int:
    return expires_in - TOKEN_MARGIN_S if expires_in > 2 * TOKEN_MARGIN_S else expires_in // 2


# ---- the client --------------------------------------------------------------------------


class WeChat:
    """One request's WeChat client; use as ``async with``."""

    def __init__(
        self,
        base_url: str,
        *,
        redis: Redis | None = None,
        timeout: httpx.Timeout = TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.redis = redis
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)
        # Keys of the in-process cache include the base URL: two fakes never share tokens.
        self._local_prefix = self.base_url + "|"

    @classmethod
    def of(cls, rt: Runtime) -> WeChat:
        return cls(rt.settings.wechat_base_url, redis=rt.redis)

    async def __aenter__(self) -> WeChat:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    async def _request(
        self, method: str, path: str, params: dict[str, str], body: Any = None
    ) -> dict[str, Any]:
        """WeChat's JSON answer, whatever its errcode; transport trouble is ``unavailable``."""
        try:
            response = await self._http.request(
                method,
                path,
                params=params,
                content=msgspec.json.encode(body) if body is not None else None,
                headers={"Content-Type": "application/json"} if body is not None else None,
            )
        except httpx.TimeoutException:
            raise unavailable("timeout") from None
        except httpx.HTTPError as exc:
            raise unavailable(type(exc).__name__) from None
        if response.status_code != 200:
            raise unavailable(f"HTTP {response.status_code}")
        try:
            data = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise unavailable("malformed response") from None
        if not isinstance(data, dict):
            raise unavailable("malformed response")
        return data

    async def _call(
        self, api: str, method: str, path: str, params: dict[str, str], body: Any = None
    ) -> dict[str, Any]:
        data = await self._request(method, path, params, body)
        errcode = _errcode(data)
        if errcode:
            raise error_for(errcode, str(data.get("errmsg", "")), api)
        return data

    async def jscode2session(self, appid: str, secret: str, js_code: str) -> WxSession:
        """Trade a ``wx.login`` code (one use, five minutes) for the user's openid."""
        data = await self._call(
            "jscode2session",
            "GET",
            "/sns/jscode2session",
            {
                "appid": appid,
                "secret": secret,
                "js_code": js_code,
                "grant_type": "authorization_code",
            },
        )
        openid, session_key = data.get("openid"), data.get("session_key")
        if not isinstance(openid, str) or not openid or not isinstance(session_key, str):
            raise unavailable("no openid in the response")
        unionid = data.get("unionid")
        return WxSession(
            openid=openid,
            session_key=session_key,
            unionid=unionid if isinstance(unionid, str) and unionid else None,
        )

    async def access_token(self, appid: str, secret: str, *, fresh: bool = False) -> str:
        """The app's access token, from the cache unless ``fresh`` (WeChat refused it)."""
        key = token_cache_key(appid, secret)
        if not fresh:
            cached = await self._cached(key)
            if cached is not None:
                return cached
        # One fetch per key at a time in this process: each fetch replaces WeChat's token.
        async with _LOCAL.lock(self._local_prefix + key):
            if not fresh:
                cached = await self._cached(key)
                if cached is not None:
                    return cached
            data = await self._call(
                "token",
                "GET",
                "/cgi-bin/token",
                {"grant_type": "client_credential", "appid": appid, "secret": secret},
            )
            token, expires_in = data.get("access_token"), data.get("expires_in")
            if not isinstance(token, str) or not token or not isinstance(expires_in, int):
                raise unavailable("no access_token in the response")
            ttl = _cache_ttl(expires_in)
            if ttl > 0:
                if self.redis is not None:
                    await self.redis.set(key, token, ex=ttl)
                else:
                    _LOCAL.tokens[self._local_prefix + key] = (token, time.monotonic() + ttl)
            return token

    async def _cached(self, key: str) -> str | None:
        if self.redis is not None:
            raw = await self.redis.get(key)
            return raw.decode() if isinstance(raw, bytes) else raw
        return _LOCAL.get(self._local_prefix + key)

    async def forget_token(self, appid: str, secret: str) -> None:
        key = token_cache_key(appid, secret)
        if self.redis is not None:
            await self.redis.delete(key)
        _LOCAL.tokens.pop(self._local_prefix + key, None)

    async def _with_token(self, appid: str, secret: str, path: str, body: Any) -> dict[str, Any]:
        """POST ``body`` to ``path`` with the app's access token; WeChat's answer. A token
        WeChat refuses (revoked because another server fetched a newer one, or expired
        early) is dropped from the cache and the call is made once more with a fresh one."""
        for attempt in range(2):
            token = await self.access_token(appid, secret, fresh=attempt > 0)
            data = await self._request("POST", path, {"access_token": token}, body)
            if _errcode(data) in BAD_TOKEN and attempt == 0:
                await self.forget_token(appid, secret)
                continue
            return data
        raise unavailable("the access token was refused twice")

    async def phone_number(self, appid: str, secret: str, code: str) -> PhoneInfo:
        """The phone number behind a ``getPhoneNumber`` button code (one use)."""
        data = await self._with_token(
            appid, secret, "/wxa/business/getuserphonenumber", {"code": code}
        )
        errcode = _errcode(data)
        if errcode:
            raise error_for(errcode, str(data.get("errmsg", "")), "getuserphonenumber")
        info = data.get("phone_info")
        if not isinstance(info, dict) or not isinstance(info.get("purePhoneNumber"), str):
            raise unavailable("no phone_info in the response")
        return PhoneInfo(
            phone_number=str(info.get("phoneNumber", "")),
            pure_phone_number=info["purePhoneNumber"],
            country_code=str(info.get("countryCode", "")),
        )

    async def subscribe_send(
        self,
        appid: str,
        secret: str,
        *,
        touser: str,
        template_id: str,
        data: dict[str, dict[str, str]],
        page: str = "",
        miniprogram_state: str = "formal",
        lang: str = "zh_CN",
    ) -> SendResult:
        """Send one subscribe message to ``touser`` (an openid of this app). Raises only when
        WeChat cannot be asked (``unavailable``) or refuses the store's credentials; every
        answer about the message itself comes back as a ``SendResult``."""
        body: dict[str, Any] = {
            "touser": touser,
            "template_id": template_id,
            "data": data,
            "miniprogram_state": miniprogram_state,
            "lang": lang,
        }
        if page:
            body["page"] = page
        answer = await self._with_token(appid, secret, "/cgi-bin/message/subscribe/send", body)
        return SendResult(errcode=_errcode(answer), errmsg=str(answer.get("errmsg", "")))
