"""Every hook storeplug calls. Each hook is documented in docs/hooks.md and tested.

Hooks that *register* things are called once at start-up on the whole plugin manager.
Hooks that *act* for a tenant are called through ``TenantHooks`` so only the plugins enabled
for that tenant answer; they may be ``async def`` and are awaited one after another inside
the caller's transaction (see ``core.plugins.call_acting``). Hooks never call the network:
they enqueue jobs, and the jobs do the I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from core.analytics.facts import OrderFacts, TrafficSource
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
    from core.console.schemas import NavItem
    from core.context import TenantContext, TenantInfo
    from core.jobs import CronSpec, JobSpec
    from core.members.models import Member
    from core.notifications.events import NotificationEvent
    from core.orders.models import Order
    from core.payments.models import Payment, Refund
    from core.payments.providers import PaymentProvider

hookspec = pluggy.HookspecMarker("storeplug")
hookimpl = pluggy.HookimplMarker("storeplug")


@hookspec
def register_routes(surface: str) -> list[Any]:
    """Route handlers or controllers to mount under one API surface.

    ``surface`` is ``"store"`` (mounted at ``/store/{tenant}/v1``), ``"merchant"``
    (``/merchant/{tenant}/v1``) or ``"console"`` (``/console/{tenant}``). Called once at
    start-up. Routes of a feature plugin answer 404 ``plugin.disabled`` for tenants that have
    not enabled it; the guard is added by the core, the plugin writes none.
    """


@hookspec
def register_jobs() -> list[JobSpec]:
    """Job functions this plugin runs in the background (``core.jobs.JobSpec``)."""


@hookspec
def register_cron() -> list[CronSpec]:
    """Cron schedules (``core.jobs.CronSpec``) for jobs registered through ``register_jobs``."""


@hookspec
def plugin_enabled(ctx: TenantContext, plugin: str, config: Any) -> Any:
    """A merchant switched ``plugin`` on; ``config`` is its validated settings Struct.

    Called on the tenant's hooks *after* the plugin joined them, so the plugin itself hears
    it (to seed defaults, schedule jobs). May be async.
    """


@hookspec
def plugin_disabled(ctx: TenantContext, plugin: str) -> Any:
    """A merchant switched ``plugin`` off. Called while the plugin is still in the tenant's
    hooks so it can wind down (cancel its schedules). Its data stays. May be async.
    """


@hookspec
def register_payment_providers() -> list[PaymentProvider]:
    """Payment providers this plugin adds (``core.payments.providers.PaymentProvider``). The
    core registers ``sandbox`` and ``wechatpay`` this way; a plugin could add Alipay. Called
    once at start-up; two providers of the same name stop the start-up."""


@hookspec
def console_nav(tenant: TenantInfo) -> list[NavItem]:
    """Entries this plugin adds to the merchant console's navigation
    (``core.console.schemas.NavItem``: label msgid, path under ``/console/{tenant}/``, lowest
    role, section, order). Called on the tenant's hooks for every console page, so a
    disabled plugin's entries are not shown; sync and pure. The pages themselves come from
    ``register_routes("console")``. The core's and the vendor side's entries come this way
    too."""


@hookspec
def register_notification_events() -> list[NotificationEvent]:
    """Notices this plugin can send to a buyer (``core.notifications.events.NotificationEvent``):
    each a name ``<plugin>.<what>``, a title, the fields it offers and a default page. The
    merchant maps each to a WeChat template; the plugin records one with
    ``core.notifications.service.notify(ctx, name, member_id=..., values={...})`` in the
    transaction of the change. Called once at start-up; a name declared twice stops it."""


# ---- catalog ---------------------------------------------------------------------------


@hookspec
def load_catalog_data(ctx: TenantContext, view: CatalogView) -> Any:
    """Load what ``catalog_decorations`` will need for these products into
    ``view.plugin_data[<plugin name>]`` (one query for the whole list, not one per product).
    Async; read only."""


@hookspec
def catalog_decorations(view: CatalogView) -> list[Decoration]:
    """Badges and activity prices for products in a list or a detail page. Sync and pure:
    read ``view.products`` and your ``view.plugin_data`` entry only."""


# ---- cart and pricing --------------------------------------------------------------------


@hookspec
def load_cart_data(ctx: TenantContext, cart: CartView) -> Any:
    """Load what your deciding cart hooks need (activities, limits already used, coupons)
    into ``cart.plugin_data[<plugin name>]``. Async; read only. Called once per pricing."""


@hookspec
def validate_cart_line(cart: CartView, line: PricingLine) -> list[LineProblem]:
    """Problems that stop ``line`` from being bought as it is (limits, eligibility, stock).
    Sync and pure. The core checks shelf status and stock above safety stock this way too."""


@hookspec
def price_adjustments(stage: str, cart: CartView) -> list[Adjustment]:
    """Adjustments for one pricing stage, in order line → promotion → coupon → points → fees.

    Sync and pure. ``cart.adjustments`` holds the earlier stages' results, so a percent
    coupon can work on the promoted price. Every adjustment names its source and a label for
    the buyer. The pipeline caps each discount as it is applied, so no line and no total goes
    below zero; money is integer fen and percentage discounts round down to the fen.
    """


@hookspec
def fulfillment_options(cart: CartView) -> list[FulfillmentOption]:
    """Ways to get this cart to the buyer, with their fee. The core offers ``express`` with
    the merchant's flat fee and free-shipping threshold. Sync and pure."""


# ---- orders ----------------------------------------------------------------------------


@hookspec
def order_before_place(ctx: TenantContext, cart: CartView, order: Order) -> Any:
    """Last word before an order is written: raise an ``AppError`` to refuse with a clear
    code, or reserve what the plugin owns (a team slot, a flash-sale unit) in ``ctx.session``.
    Called after stock is reserved and the order and its lines are flushed. Async.

    To hold the order back from fulfillment until the plugin says so (a group-buy team not
    yet formed), set ``order.fulfillment_hold = "<plugin name>"``: the order is in the
    session, so the change is written with the placement. While it is held, ``paid →
    shipped | awaiting_pickup`` is refused (409 ``order.fulfillment_held``); lift it with
    ``core.orders.state.release_fulfillment(ctx, order, "<plugin name>")``."""


@hookspec
def order_placed(ctx: TenantContext, order: Order) -> Any:
    """The order exists and awaits payment. Async, in the placing transaction."""


@hookspec
def order_paid(ctx: TenantContext, order: Order) -> Any:
    """The order's payment succeeded (``pending_payment → paid``). Async."""


@hookspec
def order_released(ctx: TenantContext, order: Order) -> Any:
    """A paid order's fulfillment hold was lifted; it may now be shipped or readied for
    pickup. Fired by ``core.orders.state.release_fulfillment``, once per release, in the
    releasing transaction. Async."""


@hookspec
def order_cancelled(ctx: TenantContext, order: Order, reason: str) -> Any:
    """The order was cancelled (by the buyer, the merchant, or the unpaid timeout); its stock
    is already released. Give back what you held for it. Async."""


@hookspec
def order_fulfilled(ctx: TenantContext, order: Order) -> Any:
    """The order left ``paid`` for fulfillment: ``shipped`` or ``awaiting_pickup``. Async."""


@hookspec
def order_completed(ctx: TenantContext, order: Order) -> Any:
    """The buyer received the order (confirmed, picked up, or completed by the timer). Async."""


@hookspec
def order_refunded(ctx: TenantContext, order: Order) -> Any:
    """The order's whole paid amount has been refunded (``→ refunded``), after the last
    ``refund_succeeded``. Give back what a paid order had earned (a used coupon). Async."""


# ---- payments ------------------------------------------------------------------------------


@hookspec
def payment_succeeded(ctx: TenantContext, payment: Payment, order: Order) -> Any:
    """The provider confirmed ``payment`` (by notification, a query or the sandbox), once per
    payment, in the transaction that marks the order paid (``order_paid`` has run). Async."""


@hookspec
def refund_succeeded(ctx: TenantContext, refund: Refund, order: Order) -> Any:
    """The provider paid ``refund`` back, once per refund. ``refund.lines`` names the lines
    and units (empty with ``refund.whole_order``, and for money given back without goods);
    the order's refunded totals and any stock are already updated. Reverse what you granted
    for that money (points, a team place, commission). Async."""


# ---- membership --------------------------------------------------------------------------


@hookspec
def member_registered(ctx: TenantContext, member: Member, source: str, source_ref: str) -> Any:
    """A new member, once per member. ``source`` is ``direct``, ``share``, ``scan`` or
    ``leader`` with its reference (the sharer, the store, the leader). Async."""


@hookspec
def member_benefits(member: MemberView) -> list[Benefit]:
    """Lines for the member centre. Sync and pure."""


# ---- analytics ---------------------------------------------------------------------------


@hookspec
def analytics_sources() -> list[TrafficSource]:
    """Sources this plugin names (``core.analytics.facts.TrafficSource``: a name and a label
    for the merchant). A storefront visit may be tagged with one (the ``X-Visit-Source``
    header; an unknown name counts as ``direct``), and ``analytics_contributions`` claims
    paid orders for them. Called once at start-up; the core names ``direct``, ``share`` and
    ``scan``."""


@hookspec
def analytics_contributions(ctx: TenantContext, orders: Sequence[OrderFacts]) -> Any:
    """Say what this plugin contributed to a batch of one day's paid orders: a list of
    ``core.analytics.facts.Contribution`` (source, order id, the GMV through it, the benefit
    it gave). Called by the daily rollup (and for today's live figures) on *every installed*
    plugin, enabled or not, since an order keeps its history when a plugin is switched off.
    Async and read only: load what you need for the whole batch in one query (your own
    tables, keyed by ``order.id``). Orders nobody claims count as ``direct``."""
