"""Paying for orders in the tests: the merchant turns a provider on, the buyer pays."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, update

from core.catalog.models import Product
from core.context import TenantContext
from core.db import utcnow
from core.hookspecs import hookimpl
from core.jobs import InProcessQueue
from core.members.models import Member
from core.orders.models import Order
from core.payments.models import Payment
from core.runtime import Runtime
from storeplug.testing import Merchant

# The test kit's (storeplug.testing.commerce), shared with plugin authors.
from storeplug.testing.commerce import activate_provider as activate_provider
from storeplug.testing.commerce import pay as pay
from storeplug.testing.commerce import use_sandbox as use_sandbox

# ---- further helpers of the payments tests --------------------------------------------------


@dataclass(eq=False)  # hashed by identity, as pluggy keeps plugins in sets
class PaymentHooks:
    """A hookimpl object recording ``order_paid`` and ``payment_succeeded``:
    (hook, tenant id, order id, payment id or "")."""

    calls: list[tuple[str, str, str, str]] = field(default_factory=list)

    def of(self, hook: str, order_id: str) -> int:
        return sum(1 for h, _, o, _ in self.calls if h == hook and o == order_id)

    @hookimpl
    async def order_paid(self, ctx: TenantContext, order: Order) -> None:
        self.calls.append(("order_paid", ctx.tenant_id, order.id, ""))

    @hookimpl
    async def payment_succeeded(self, ctx: TenantContext, payment: Payment, order: Order) -> None:
        assert payment.order_id == order.id and payment.status == "succeeded"
        assert order.status == "paid", "order_paid has run in the same transaction"
        self.calls.append(("payment_succeeded", ctx.tenant_id, order.id, payment.id))


@contextmanager
def listening(rt: Runtime) -> Iterator[PaymentHooks]:
    """Register a ``PaymentHooks`` like an always-on core module for one test."""
    recorder = PaymentHooks()
    name = f"tests.payment_hooks.{secrets.token_hex(4)}"
    rt.plugins.pm.register(recorder, name=name)
    try:
        yield recorder
    finally:
        rt.plugins.pm.unregister(name=name)


async def payments_of(rt: Runtime, merchant: Merchant, order_id: str) -> list[Payment]:
    async with rt.db.tenant_session(merchant.id) as session:
        rows = await session.scalars(
            select(Payment).where(Payment.order_id == order_id).order_by(Payment.id)
        )
        return list(rows.all())


async def payment_row(rt: Runtime, merchant: Merchant, payment_id: str) -> Payment:
    async with rt.db.tenant_session(merchant.id) as session:
        payment = await session.get(Payment, (merchant.id, payment_id))
    assert payment is not None
    return payment


async def age_payment(
    rt: Runtime, merchant: Merchant, payment_id: str, *, expired: bool = False
) -> None:
    """Make a payment old enough for the reconcile job (and past its deadline)."""
    values: dict[str, Any] = {"created_at": utcnow() - timedelta(minutes=5), "checked_at": None}
    if expired:
        values["expires_at"] = utcnow() - timedelta(seconds=5)
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(update(Payment).where(Payment.id == payment_id).values(**values))


async def member_total_paid(rt: Runtime, merchant: Merchant, member_id: str) -> int:
    async with rt.db.tenant_session(merchant.id) as session:
        total = await session.scalar(select(Member.total_paid).where(Member.id == member_id))
    assert total is not None
    return total


async def product_sales(rt: Runtime, merchant: Merchant, product_id: str) -> int:
    async with rt.db.tenant_session(merchant.id) as session:
        sales = await session.scalar(select(Product.sales).where(Product.id == product_id))
    assert sales is not None
    return sales


async def drain(rt: Runtime) -> None:
    """Let the in-process queue finish what was enqueued (Redis jobs need a worker)."""
    if isinstance(rt.jobs, InProcessQueue):
        await rt.jobs.drain()


def rsa_pems() -> tuple[str, str]:
    """A fresh RSA-2048 key pair: (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def wechatpay_config(appid: str | None = None) -> dict[str, str]:
    """A well-formed WeChat Pay config with keys made for this test (no server knows it)."""
    merchant_key, _ = rsa_pems()
    _, platform_key = rsa_pems()
    return {
        "mchid": str(1_900_000_000 + secrets.randbelow(99_999_999)),
        "appid": appid or "wx" + secrets.token_hex(8),
        "merchant_serial_no": secrets.token_hex(20).upper(),
        "merchant_private_key": merchant_key,
        "apiv3_key": secrets.token_hex(16),
        "platform_public_key": platform_key,
        "platform_key_id": "PUB_KEY_ID_" + secrets.token_hex(12),
    }
