"""A small feature plugin used by the tests: routes on two surfaces, a table with its own
migration branch, a job, settings with validation, and lifecycle hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import JSONBody
from sqlalchemy import func, select

from core.api import Caller, Ctx, Tenant, runtime_of
from core.auth import require_staff
from core.commerce import (
    Adjustment,
    Benefit,
    CartView,
    CatalogView,
    Decoration,
    FulfillmentOption,
    LineProblem,
    MemberView,
    PricingLine,
)
from core.console.i18n import N_
from core.console.schemas import NavItem
from core.console.web import page
from core.context import TenantContext, TenantInfo
from core.db import utcnow
from core.errors import AppError
from core.hookspecs import hookimpl
from core.idempotency import HEADER, run_idempotent
from core.jobs import JobSpec
from core.members.models import Member
from core.notifications.events import EventField, NotificationEvent
from core.notifications.service import notify
from core.orders.models import Order
from core.payments.models import Refund
from core.plugins import PluginMeta
from tests.plugins.echo.models import EchoCharge


class EchoSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    greeting: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] = "hello"
    max_items: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3


META = PluginMeta(
    name="echo",
    title="Echo",
    description="Test plugin that greets and records charges.",
    version="1.0.0",
    settings=EchoSettings,
    migrations=str(Path(__file__).parent / "migrations"),
)

# What the lifecycle and job hooks saw, for the tests to read.
EVENTS: list[tuple[str, str, Any]] = []


class ChargeIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: Annotated[int, msgspec.Meta(gt=0)]
    note: Annotated[str, msgspec.Meta(max_length=100)] = ""  # the column's length


class ChargeOut(msgspec.Struct):
    id: str
    amount: int
    total_charges: int


@get("/echo/hello")
async def hello(tenant: Tenant, ctx: Ctx) -> dict[str, str]:
    settings = msgspec.convert(tenant.plugin_configs.get("echo", {}), EchoSettings)
    return {"greeting": settings.greeting, "tenant": tenant.slug}


@post("/echo/charges")
async def charge(
    request: Request[Any, Any, Any], tenant: Tenant, principal: Caller, data: JSONBody[ChargeIn]
) -> Any:
    # ``principal``, not ``ctx``: run_idempotent runs its own transactions.
    async def work(tx: TenantContext) -> ChargeOut:
        row = EchoCharge(amount=data.amount, note=data.note)
        tx.session.add(row)
        await tx.session.flush()
        total = await tx.session.scalar(select(func.count()).select_from(EchoCharge))
        return ChargeOut(id=row.id, amount=row.amount, total_charges=total or 0)

    return await run_idempotent(
        runtime_of(request),
        tenant,
        principal,
        "POST /echo/charges",
        request.headers.get(HEADER),
        data,
        work,
    )


@get("/echo/charges")
async def count_charges(ctx: Ctx) -> dict[str, int]:
    total = await ctx.session.scalar(select(func.count()).select_from(EchoCharge))
    return {"total_charges": total or 0}


class GreetIn(msgspec.Struct, forbid_unknown_fields=True):
    member_id: str
    name: str = "拿铁"
    amount: int = 1250
    fail: bool = False  # raise after the notice is recorded: the transaction rolls back
    key: str | None = None


GREETED = NotificationEvent(
    name="echo.greeted",
    title="问候",
    description="The merchant greeted a member (a test event).",
    fields=(
        EventField("name", "商品", example="拿铁咖啡"),
        EventField("amount", "金额", kind="amount", example="¥12.50"),
        EventField("code", "编号", kind="code", example="E123"),
        EventField("at", "时间", kind="datetime", example="2026年11月23日 14:30"),
    ),
    page="pages/echo/index?code={code}",
)


@post("/echo/greetings", status_code=201)
async def greet(ctx: Ctx, data: JSONBody[GreetIn]) -> dict[str, str | None]:
    """Record one ``echo.greeted`` notice to a member, in the request's transaction."""
    row = await notify(
        ctx,
        "echo.greeted",
        member_id=data.member_id,
        values={"name": data.name, "amount": data.amount, "code": "E123", "at": utcnow()},
        ref="greeting",
        key=data.key,
    )
    if data.fail:
        raise AppError("asked to fail after recording", code="echo.failed", status=409)
    return {"id": row.id if row is not None else None}


@hookimpl
def register_notification_events() -> list[NotificationEvent]:
    return [GREETED]


async def record(ctx: Any, tenant_id: str, note: str) -> None:
    EVENTS.append(("job", tenant_id, note))


@get("/echo", include_in_schema=False)
async def echo_page(request: Request[Any, Any, Any], tenant: Tenant, ctx: Ctx) -> Response[str]:
    """The plugin's console page: the same role check as its API, then a template of its own
    (``templates/page.html`` beside this module, named ``echo/page.html``)."""
    require_staff(ctx, "clerk")
    settings = msgspec.convert(tenant.plugin_configs.get("echo", {}), EchoSettings)
    total = await ctx.session.scalar(select(func.count()).select_from(EchoCharge))
    return page(request, "echo/page.html", greeting=settings.greeting, charges=total or 0)


@hookimpl
def register_routes(surface: str) -> list[Any]:
    return {
        "store": [hello],
        "merchant": [charge, count_charges, greet],
        "console": [echo_page],
    }.get(surface, [])


# A greeting that breaks the plugin's menu entries, so every page of the store's console,
# the error page included, fails to render: what a buggy plugin would do.
BROKEN_NAV = "break the menu"


@hookimpl
def console_nav(tenant: TenantInfo) -> list[NavItem]:
    if tenant.plugin_configs.get("echo", {}).get("greeting") == BROKEN_NAV:
        raise RuntimeError("the echo plugin's menu is broken on purpose")
    return [NavItem(label=N_("Echo"), path="echo", role="clerk", section="marketing")]


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [JobSpec(name="echo.record", function=record, retries=0)]


@hookimpl
async def plugin_enabled(ctx: TenantContext, plugin: str, config: Any) -> None:
    EVENTS.append(("enabled", ctx.tenant_id, plugin))


@hookimpl
async def plugin_disabled(ctx: TenantContext, plugin: str) -> None:
    EVENTS.append(("disabled", ctx.tenant_id, plugin))


# ---- cart and pricing: every deciding cart hook, driven by the cart's ``options`` ----------
# Lines bought through an "echo:<ref>" activity get ECHO's line price and at most
# ``max_items`` of them; the promotion stage always takes 1 yuan off the order; the other
# stages act only when the buyer's ``options`` ask them to (the tests drive them that way).


def _option(cart: CartView, name: str) -> int:
    value = cart.options.get(name)
    return value if type(value) is int else 0


@hookimpl
async def load_cart_data(ctx: TenantContext, cart: CartView) -> None:
    cart.plugin_data["echo"] = msgspec.convert(
        ctx.tenant.plugin_configs.get("echo", {}), EchoSettings
    )
    for line in cart.lines:
        if line.activity.startswith("echo:"):
            line.level_discount = False  # ECHO's price does not stack with the level discount


@hookimpl
def validate_cart_line(cart: CartView, line: PricingLine) -> list[LineProblem]:
    settings: EchoSettings = cart.plugin_data["echo"]
    if line.activity.startswith("echo:") and line.quantity > settings.max_items:
        return [
            LineProblem(
                line_key=line.key,
                code="echo.limit_exceeded",
                message=f"at most {settings.max_items} per buyer",
            )
        ]
    return []


def _bad_adjustment(kind: str, cart: CartView) -> list[Any]:
    key = cart.lines[0].key if cart.lines else None
    bad: dict[str, Any] = {
        "float": Adjustment(source="echo", label="bad", amount=1.5, stage="coupon"),  # type: ignore[arg-type]
        "positive": Adjustment(source="echo", label="bad", amount=100, stage="coupon"),
        "stage": Adjustment(source="echo", label="bad", amount=-1, stage="points"),
        "line": Adjustment(source="echo", label="bad", amount=-1, stage="coupon", line_key="?"),
        "object": {"source": "echo", "amount": -1},
    }
    return [bad[kind]] if kind in bad and key is not None else []


@hookimpl
def price_adjustments(stage: str, cart: CartView) -> list[Any]:
    if stage == "line":
        off = _option(cart, "echo_line_off")
        return [
            Adjustment(
                source="echo",
                label="ECHO价" if line.activity.startswith("echo:") else "ECHO line",
                amount=-(100 * line.quantity if line.activity.startswith("echo:") else off),
                stage="line",
                line_key=line.key,
            )
            for line in cart.lines
            if line.activity.startswith("echo:") or off
        ]
    if stage == "promotion" and cart.lines:
        return [Adjustment(source="echo", label="ECHO -1 yuan", amount=-100, stage="promotion")]
    if stage == "coupon":
        bad = cart.options.get("echo_bad")
        if isinstance(bad, str):
            return _bad_adjustment(bad, cart)
        percent = _option(cart, "echo_coupon")
        if not percent:
            return []
        seen = cart.total_after("promotion")  # what the earlier stages left
        return [
            Adjustment(
                source="echo",
                label=f"ECHO {percent}% of {seen}",
                amount=-(seen * percent // 100),
                stage="coupon",
            )
        ]
    if stage == "points" and _option(cart, "echo_points"):
        return [
            Adjustment(
                source="echo",
                label="ECHO points",
                amount=-_option(cart, "echo_points"),
                stage="points",
            )
        ]
    if stage == "fees" and _option(cart, "echo_fee"):
        return [
            Adjustment(
                source="echo", label="ECHO handling", amount=_option(cart, "echo_fee"), stage="fees"
            )
        ]
    return []


@hookimpl
def fulfillment_options(cart: CartView) -> list[FulfillmentOption]:
    closed = bool(cart.options.get("echo_closed"))
    return [
        FulfillmentOption(
            method="echo_pickup",
            label="ECHO自提",
            fee=_option(cart, "echo_pickup_fee"),
            available=not closed,
            reason="the ECHO counter is closed" if closed else "",
        )
    ]


@hookimpl
async def member_registered(
    ctx: TenantContext, member: Member, source: str, source_ref: str
) -> None:
    assert ctx.principal is not None and ctx.principal.id == member.id
    EVENTS.append(("member_registered", ctx.tenant_id, (member.id, source, source_ref)))


# ---- refunds: record each refund's success and each order refunded in full -------------


@hookimpl
async def refund_succeeded(ctx: TenantContext, refund: Refund, order: Order) -> None:
    assert refund.status == "succeeded" and refund.order_id == order.id
    EVENTS.append(("refund_succeeded", ctx.tenant_id, (refund.id, order.id)))


@hookimpl
async def order_refunded(ctx: TenantContext, order: Order) -> None:
    assert order.status == "refunded" and order.refunded_amount == order.paid_amount
    EVENTS.append(("order_refunded", ctx.tenant_id, order.id))


@hookimpl
def member_benefits(member: MemberView) -> list[Benefit]:
    return [Benefit(source="echo", title="echo", detail=f"hello {member.id}")]


# ---- catalog decorations: a badge on every product of a tenant that has echo on ----------


@hookimpl
async def load_catalog_data(ctx: TenantContext, view: CatalogView) -> None:
    # One query for the whole list, as the hook asks; it proves the loader runs with the
    # tenant's session before the deciding hook.
    charges = await ctx.session.scalar(select(func.count()).select_from(EchoCharge))
    view.plugin_data["echo"] = {"charges": charges or 0}


@hookimpl
def catalog_decorations(view: CatalogView) -> list[Decoration]:
    charges = view.plugin_data["echo"]["charges"]
    return [
        Decoration(
            product_id=card.id,
            source="echo",
            badge="ECHO",
            activity_price=card.min_price // 2,
            activity=f"echo:{charges}",
        )
        for card in view.products
    ]
