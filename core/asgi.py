"""ASGI entry for process managers: ``uvicorn --factory core.asgi:create``."""

from __future__ import annotations

from litestar import Litestar

from core.app import create_app
from core.settings import load_settings


def create() -> Litestar:
    return create_app(load_settings())
