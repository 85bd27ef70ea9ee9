"""The "coupon about to expire" notice, and the hourly job that records it.

Each run goes tenant by tenant (row-level security stays on) and looks at the coupons still
available that end within ``WINDOW``. A member hears once about their coupon that ends first,
with how many of theirs end in the window: the notice's key is that coupon, so later runs
record nothing more for it. A coupon used or ending later may bring a second notice after the
first one's coupon is gone, not before.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from core.context import Principal
from core.coupons.models import CouponTemplate, MemberCoupon
from core.coupons.pricing import label
from core.db import utcnow
from core.notifications.events import EventField, NotificationEvent
from core.notifications.service import notify
from core.runtime import Runtime

log = logging.getLogger("storeplug.coupons")

JOB = "coupons.expiring_notices"
WINDOW = timedelta(days=2)
BATCH = 2000  # coupons per tenant per run; the next run takes the rest

EXPIRING = NotificationEvent(
    name="coupon.expiring",
    title="优惠券即将过期",
    description="One of the member's coupons ends within two days (sent once per coupon).",
    fields=(
        EventField("coupon", "优惠券", example="新客立减券"),
        EventField("benefit", "优惠内容", example="满30减5"),
        EventField("expires_at", "到期时间", kind="datetime", example="2026年11月25日 23:59"),
        EventField("count", "即将过期张数", kind="number", example="2"),
    ),
    page="pages/coupons/index",
)


def notice_key(coupon_id: str) -> str:
    return f"{EXPIRING.name}:{coupon_id}"


async def notify_tenant(rt: Runtime, tenant_id: str) -> int:
    """Record the notices due in one tenant; how many were recorded."""
    tenant = await rt.tenants.by_id(tenant_id)
    if tenant is None:
        return 0
    now = utcnow()
    recorded = 0
    async with rt.tenant_context(tenant, Principal(kind="job", id=JOB, tenant_id=tenant_id)) as ctx:
        rows = (
            await ctx.session.execute(
                select(MemberCoupon, CouponTemplate)
                .join(CouponTemplate, CouponTemplate.id == MemberCoupon.template_id)
                .where(
                    MemberCoupon.status == "available",
                    MemberCoupon.valid_until > now,
                    MemberCoupon.valid_until <= now + WINDOW,
                )
                .order_by(MemberCoupon.valid_until, MemberCoupon.id)
                .limit(BATCH)
            )
        ).all()
        first: dict[str, tuple[MemberCoupon, CouponTemplate]] = {}
        counts: dict[str, int] = {}
        for coupon, template in rows:
            first.setdefault(coupon.member_id, (coupon, template))
            counts[coupon.member_id] = counts.get(coupon.member_id, 0) + 1
        for member_id, (coupon, template) in first.items():
            row = await notify(
                ctx,
                EXPIRING.name,
                member_id=member_id,
                values={
                    "coupon": template.name,
                    "benefit": label(
                        template.kind, template.amount, template.percent_off, template.min_spend
                    ),
                    "expires_at": coupon.valid_until,
                    "count": counts[member_id],
                },
                ref=coupon.id,
                key=notice_key(coupon.id),
            )
            recorded += row is not None
    return recorded


async def expiring_notices(rt: Runtime) -> int:
    """Cron: every tenant in turn."""
    recorded = 0
    for tenant_id in await rt.tenants.ids():
        try:
            recorded += await notify_tenant(rt, tenant_id)
        except Exception:
            log.exception("coupon expiry notices: tenant %s failed", tenant_id)
    return recorded
