"""HTTP routes of the store domain: the merchant's store settings."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, put
from litestar.params import JSONBody

from core.api import AnyRequest, Ctx, runtime_of
from core.store import schemas as s
from core.store import service


class StoreSettingsController(Controller):
    path = "/settings/store"
    tags = ["merchant"]

    @get("/")
    async def read(self, request: AnyRequest, ctx: Ctx) -> s.StoreSettingsOut:
        """Managers and owners; the AppSecret shows only as set / fingerprint."""
        return await service.read_store_settings(ctx, runtime_of(request).settings.secret_key)

    @put("/")
    async def update(
        self, request: AnyRequest, ctx: Ctx, data: JSONBody[s.StoreSettingsIn]
    ) -> s.StoreSettingsOut:
        """Changes the fields given. The WeChat AppID and AppSecret need the owner."""
        secret_key = runtime_of(request).settings.secret_key
        return await service.update_store_settings(ctx, secret_key, data)


STORE_ROUTES: list[Any] = []
MERCHANT_ROUTES: list[Any] = [StoreSettingsController]
