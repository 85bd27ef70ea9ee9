"""Always-on hookimpls of the payments domain (registered as the core module
"core.payments.defaults"): the sandbox and WeChat Pay providers, and the payment and refund
jobs."""

from __future__ import annotations

from core.hookspecs import hookimpl
from core.payments.providers import PaymentProvider


@hookimpl
def register_payment_providers() -> list[PaymentProvider]:
    return []
