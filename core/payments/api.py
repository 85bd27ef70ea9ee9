"""HTTP routes of the payments domain.

Storefront: ``POST /orders/{id}/pay`` (member, ``Idempotency-Key``). Merchant:
``/payments/accounts`` (managers read, the owner writes). Webhooks: ``POST
/webhooks/{tenant}/{provider}``, mounted with no caller credentials (the provider's signature
is checked) and answered in the provider's format rather than problem+json.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, JSONBody

from core.api import AnyRequest, Ctx, CurrentMember, Tenant, runtime_of
from core.idempotency import HEADER, answers, run_idempotent_io
from core.payments import accounts, service, webhook
from core.payments import schemas as s

PAY_ROUTE = "POST /orders/{id}/pay"
ProviderPath = FromPath[str]


@post(
    "/orders/{order_id:str}/pay",
    opt={"member": True},
    tags=["store"],
    responses=answers(s.PayOut, "What wx.requestPayment needs, or the order paid at once"),
)
async def pay_order(
    request: AnyRequest,
    tenant: Tenant,
    member: CurrentMember,
    order_id: FromPath[str],
    data: JSONBody[s.PayIn | None] = None,
) -> Any:
    """Open the order's payment; the answer's ``params`` go to ``wx.requestPayment``.
    The order paid by the sandbox comes back already ``paid``."""
    rt = runtime_of(request)
    provider = data.provider if data is not None else None
    # Someone else's order is a 404 before anything else is looked at (the key included).
    await service.require_own_order(rt, tenant, member, order_id)

    async def steps() -> s.PayOut:
        return await service.pay(rt, tenant, member, order_id, provider)

    # The order is part of the payload: one key reused for another order is a 422.
    payload = {"order_id": order_id, "provider": provider}
    return await run_idempotent_io(
        rt, tenant, member, PAY_ROUTE, request.headers.get(HEADER), payload, steps
    )


class PaymentAccountsController(Controller):
    """The store's credentials per provider; secrets are write-only."""

    path = "/payments/accounts"
    tags = ["merchant"]

    @get("/")
    async def list_accounts(self, request: AnyRequest, ctx: Ctx) -> list[s.AccountOut]:
        """Every provider this deployment offers, with the store's account for it."""
        return await accounts.list_accounts(ctx, runtime_of(request))

    # ``{name}``: a provider's name, like a plugin's, not a row id.
    @get("/{name:str}")
    async def read_account(self, request: AnyRequest, ctx: Ctx, name: ProviderPath) -> s.AccountOut:
        return await accounts.read_account(ctx, runtime_of(request), name)

    @put("/{name:str}")
    async def save_account(
        self, request: AnyRequest, ctx: Ctx, name: ProviderPath, data: JSONBody[s.AccountIn]
    ) -> s.AccountOut:
        """Owner only. Validated on save; a secret left out keeps the stored one."""
        return await accounts.save_account(ctx, runtime_of(request), name, data)


@post("/{provider:str}", status_code=200, include_in_schema=False)
async def notification(
    request: AnyRequest, tenant_slug: FromPath[str], provider: ProviderPath
) -> Response[bytes]:
    """A provider's notification, verified over the raw body; answered 204 when taken."""
    body = await request.body()
    return await webhook.receive(runtime_of(request), tenant_slug, provider, request.headers, body)


STORE_ROUTES: list[Any] = [pay_order]
MERCHANT_ROUTES: list[Any] = [PaymentAccountsController]
WEBHOOK_ROUTES: list[Any] = [notification]  # mounted under /webhooks/{tenant_slug}
