"""ASGI entry for process managers: ``uvicorn --factory storeplug.asgi:create``."""

from __future__ import annotations

from litestar import Litestar

from core.settings import load_settings
from storeplug.app import create_app


def create() -> Litestar:
    return create_app(load_settings())
