"""Provider notifications: ``POST /webhooks/{tenant}/{provider}`` (WeChat Pay's notify_url).

No caller credentials: the provider's signature over the raw body is the proof, checked by the
provider's ``parse_notification`` with this store's keys. A suspended store still gets its
money, so its notifications are accepted.

WeChat's conventions, not problem+json: success is an empty ``204``; a refusal is a 4xx/5xx
with ``{"code": "FAIL", "message": "…"}``, and WeChat sends the notification again later
(a genuine one that failed for a passing reason then gets through). Every refusal is logged
with its reason. A repeat of a notification already applied is acknowledged with no effect.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import msgspec
from litestar import Response

from core.context import TenantInfo
from core.errors import AppError
from core.payments import refunds
from core.payments.accounts import load_account
from core.payments.providers import PaymentResult, RefundResult
from core.payments.service import ULID, PaymentNotFound, apply_payment_result

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("storeplug.payments.webhook")

# Not ours to take: answered 404 so WeChat gives up on it sooner.
_UNKNOWN = frozenset(
    {
        "tenant.not_found",
        "payment.unknown_provider",
        "payment.not_configured",
        "payment.sandbox_disabled",
    }
)


class WebhookFail(msgspec.Struct):
    code: str
    message: str


def fail(status: int, message: str) -> Response[bytes]:
    body = msgspec.json.encode(WebhookFail(code="FAIL", message=message))
    return Response(content=body, status_code=status, media_type="application/json")


async def _payment(rt: Runtime, tenant: TenantInfo, provider: str, result: PaymentResult) -> None:
    if not ULID.match(result.out_trade_no):
        raise PaymentNotFound
    if result.state != "succeeded":
        log.info(
            "%s notification for payment %s of %s says %s: nothing to do",
            provider,
            result.out_trade_no,
            tenant.slug,
            result.state,
        )
        return
    applied = await apply_payment_result(
        rt, tenant, result.out_trade_no, result, actor=f"webhook:{provider}", provider=provider
    )
    if not applied:
        log.info("repeated %s notification for payment %s", provider, result.out_trade_no)


async def _refund(rt: Runtime, tenant: TenantInfo, provider: str, result: RefundResult) -> None:
    await refunds.apply_refund_result(rt, tenant, result, actor=f"webhook:{provider}")


async def receive(
    rt: Runtime, tenant_slug: str, provider: str, headers: Mapping[str, str], body: bytes
) -> Response[bytes]:
    """Verify and apply one notification; answer it the way the provider expects."""
    try:
        tenant = await rt.tenants.resolve(tenant_slug)
        found, account = await load_account(rt, tenant, provider)
        notification = found.parse_notification(account, headers, body)
        if notification.payment is not None:
            await _payment(rt, tenant, provider, notification.payment)
        elif notification.refund is not None:
            await _refund(rt, tenant, provider, notification.refund)
    except AppError as exc:
        status = 404 if exc.code in _UNKNOWN else exc.status
        log.warning(
            "refused a %s notification for %s: %s %s (%s)",
            provider,
            tenant_slug,
            status,
            exc.code,
            exc.detail,
        )
        return fail(status, exc.detail)
    except Exception:
        log.exception("a %s notification for %s failed", provider, tenant_slug)
        return fail(500, "internal error; send it again later")
    return Response(content=b"", status_code=204)
