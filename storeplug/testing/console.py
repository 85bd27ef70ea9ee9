"""A browser-like HTTP client for the merchant console: its own cookie jar, the CSRF token of
the last page it loaded, and signing in through the real sign-in form."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from litestar import Litestar
from litestar.routes import HTTPRoute

from core.console.i18n import catalog_files
from storeplug.testing.helpers import Merchant

_CSRF = re.compile(r'name="_csrf" value="([0-9a-f]+)"')


def csrf_in(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF field in the page"
    return match.group(1)


class ConsoleClient:
    def __init__(self, http: httpx.AsyncClient, base: str) -> None:
        self.http = http
        self.base = base  # /console/<slug> or /vendor/console
        self.csrf = ""

    async def get(self, path: str = "", **kwargs: Any) -> httpx.Response:
        response = await self.http.get(f"{self.base}/{path.lstrip('/')}", **kwargs)
        if "_csrf" in response.text:
            self.csrf = csrf_in(response.text)
        return response

    async def post(
        self, path: str, data: dict[str, Any] | None = None, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            form["_csrf"] = self.csrf
        response = await self.http.post(f"{self.base}/{path.lstrip('/')}", data=form, **kwargs)
        if "_csrf" in response.text:
            self.csrf = csrf_in(response.text)
        return response

    async def sign_in(self, username: str, password: str) -> httpx.Response:
        await self.get("login")
        return await self.post("login", {"username": username, "password": password})


@asynccontextmanager
async def console_client(
    base_url: str, slug: str, language: str = "zh-CN,zh;q=0.9", base: str = ""
) -> AsyncIterator[ConsoleClient]:
    """A client of the store ``slug``'s console (or of the console at ``base``)."""
    async with httpx.AsyncClient(
        base_url=base_url, timeout=30, headers={"Accept-Language": language}
    ) as http:
        yield ConsoleClient(http, base or f"/console/{slug}")


@asynccontextmanager
async def signed_in(
    base_url: str,
    merchant: Merchant,
    username: str = "owner",
    password: str | None = None,
    language: str = "zh-CN,zh;q=0.9",
) -> AsyncIterator[ConsoleClient]:
    """A console client signed in as ``username`` (the owner by default)."""
    async with console_client(base_url, merchant.slug, language) as console:
        response = await console.sign_in(username, password or merchant.password)
        assert response.status_code == 303, response.text
        await console.get("")
        yield console


async def staff_login(client: httpx.AsyncClient, merchant: Merchant, role: str) -> tuple[str, str]:
    """A new staff member of ``role``: (username, initial password)."""
    username = f"{role}-{secrets.token_hex(3)}"
    made = await client.post(
        f"{merchant.merchant}/staff/",
        headers=merchant.auth,
        json={"username": username, "role": role},
    )
    assert made.status_code == 201, made.text
    return username, str(made.json()["initial_password"])


@dataclass(frozen=True)
class ConsoleRoute:
    """One route of the merchant console: ``path`` relative to ``/console/{tenant}``, with
    its ``{parameters}`` by name (``/orders/{order_id}``)."""

    method: str
    path: str
    params: tuple[str, ...]
    public: bool  # needs no session (the sign-in page, the theme)


_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
CONSOLE_PREFIX = "/console/{tenant_slug:str}"


def console_routes(app: Litestar) -> list[ConsoleRoute]:
    """Every route of the merchant console in ``app``: the core's, the vendor side's and
    every installed plugin's, so a walk over them covers new pages by their existing."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith(CONSOLE_PREFIX):
            continue
        path = _PARAM.sub(r"{\1}", route.path[len(CONSOLE_PREFIX) :]) or "/"
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                found.append(
                    ConsoleRoute(
                        method=method,
                        path=path,
                        params=tuple(_PARAM.findall(path)),
                        public=bool(handler.opt.get("public")),
                    )
                )
    return sorted(found, key=lambda r: (r.path, r.method))


# Babel's extraction of UI strings, as babel.cfg has it: ``_``/``N_`` in Python, and the
# Jinja2 templates.
_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
_METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
_OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def untranslated(owner: Path, locale_dir: Path | None = None, locale: str = "zh_CN") -> list[str]:
    """The UI strings in ``owner``'s Python and templates that its catalog
    (``<owner>/locale/<locale>/LC_MESSAGES/messages.po`` unless ``locale_dir`` says otherwise)
    does not translate. Fails when ``owner`` has no UI strings at all, which would make the
    check vacuous."""
    extracted = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(owner, _METHODS, keywords=_KEYWORDS, options_map=_OPTIONS)
    }
    assert extracted, f"no UI strings found under {owner}"
    path = catalog_files(locale_dir or owner / "locale", locale)
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    translated = {message.id for message in catalog if message.id and message.string}
    return sorted(extracted - translated)
