"""Always-on hookimpls of the coupons engine (registered as the core module
"core.coupons.defaults").

- ``load_cart_data`` loads the member's coupons usable now into ``cart.plugin_data["coupons"]``
  (a ``CouponsData``), so the deciding hooks below stay pure;
- ``validate_cart_line`` (asked for the first line only, since it is about the whole cart):
  a coupon chosen in ``options.coupon_id`` that cannot be used is ``coupon.unavailable``;
- ``price_adjustments``: the chosen or best coupon's discount in the coupon stage, split over
  the lines it covers (source ``coupon:<member coupon id>``), or, for a free-shipping coupon,
  minus the chosen delivery's fee in the fees stage;
- ``order_before_place`` locks the coupon the order used (one conditional UPDATE: two orders
  racing for one coupon, one wins and the other is refused with 409 ``coupon.unavailable``);
- ``order_paid`` marks it used, ``order_cancelled`` and ``order_refunded`` give it back;
- the hourly ``coupons.expiring_notices`` tells members of a coupon about to end
  (``core.coupons.notices``).

The math is in ``core.coupons.pricing``, the database work in ``core.coupons.service``.
"""

from __future__ import annotations

from core.commerce import Adjustment, CartView, LineProblem, PricingLine
from core.context import TenantContext
from core.coupons import notices, pricing, service
from core.hookspecs import hookimpl
from core.jobs import CronSpec, JobSpec
from core.notifications.events import NotificationEvent
from core.orders.models import Order


@hookimpl
async def load_cart_data(ctx: TenantContext, cart: CartView) -> None:
    if pricing.choice(cart) == pricing.NO_COUPON:
        cart.plugin_data[pricing.PLUGIN_DATA] = pricing.CouponsData()
        return
    cart.plugin_data[pricing.PLUGIN_DATA] = await service.usable_coupons(
        ctx, cart.member.id, pricing.choice(cart)
    )


@hookimpl
def validate_cart_line(cart: CartView, line: PricingLine) -> list[LineProblem]:
    if line.key != cart.lines[0].key:
        return []
    problem = pricing.choice_problem(cart)
    return [] if problem is None else [problem]


# trylast: in the fees stage the waiver follows the core's fee, so it is never capped by a
# total that the fee has not been added to yet.
@hookimpl(trylast=True)
def price_adjustments(stage: str, cart: CartView) -> list[Adjustment]:
    if stage == "coupon":
        return pricing.coupon_stage(cart)
    if stage == "fees":
        return pricing.fees_stage(cart)
    return []


@hookimpl
async def order_before_place(ctx: TenantContext, cart: CartView, order: Order) -> None:
    for coupon_id in sorted(pricing.applied_coupon_ids(cart)):
        await service.lock(ctx, coupon_id, cart.member.id, order.id)


@hookimpl
async def order_paid(ctx: TenantContext, order: Order) -> None:
    await service.consume(ctx, order.id)


@hookimpl
async def order_cancelled(ctx: TenantContext, order: Order, reason: str) -> None:
    await service.release(ctx, order.id)


@hookimpl
async def order_refunded(ctx: TenantContext, order: Order) -> None:
    await service.give_back(ctx, order.id)


@hookimpl
def register_notification_events() -> list[NotificationEvent]:
    return [notices.EXPIRING]


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [JobSpec(name=notices.JOB, function=notices.expiring_notices, retries=0, timeout_s=600)]


@hookimpl
def register_cron() -> list[CronSpec]:
    return [CronSpec(job=notices.JOB, cron="23 * * * *")]
