"""Operators of the vendor console for the tests, and a client signed in as one."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core.auth import hash_password
from core.runtime import Runtime
from storeplug.testing.console import ConsoleClient, console_client
from tenants import vendor_users
from tenants.models import VendorUser
from tenants.schemas import VendorUserCreate

VENDOR_BASE = "/vendor/console"


@dataclass
class Operator:
    username: str
    password: str


async def new_operator(rt: Runtime, password: str = "operator password 1") -> Operator:
    """A vendor console operator who has already chosen ``password``."""
    created = await vendor_users.create(
        rt, VendorUserCreate(username=f"op-{secrets.token_hex(4)}", display_name="运营")
    )
    async with rt.db.shared_session() as session:
        user = await session.get(VendorUser, created.user.id)
        assert user is not None
        user.password_hash = hash_password(password)
        user.must_change_password = False
    return Operator(username=created.user.username, password=password)


@asynccontextmanager
async def vendor_signed_in(
    base_url: str, operator: Operator, language: str = "zh-CN,zh;q=0.9"
) -> AsyncIterator[ConsoleClient]:
    """A client of the vendor console signed in as ``operator``."""
    async with console_client(base_url, "", language, base=VENDOR_BASE) as console:
        response = await console.sign_in(operator.username, operator.password)
        assert response.status_code == 303, response.text
        await console.get("tenants")
        yield console
