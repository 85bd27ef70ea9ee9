"""Analytics tables. Two kinds:

- raw storefront traffic, written by the event buffer's flushes (additive upserts):
  ``analytics_traffic`` (counts per day, product and source) and ``analytics_visitors``
  (one row per visitor per day, with the funnel stages they reached);
- rollups, written whole by the rollup and RFM jobs (a re-run replaces them with the same
  rows): ``analytics_days``, ``analytics_product_days``, ``analytics_source_days``,
  ``analytics_member_rfm``, ``analytics_segment_days`` and ``analytics_cohorts``.

Days are calendar days in China time (UTC+8). Dashboards read rollups only, so their cost
grows with the days asked for, never with the orders behind them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantOwned, tenant_fk

# Funnel stages a visitor reached on a day (a bit each in ``analytics_visitors.stages``).
VISITED = 1  # opened a product list or a product
VIEWED = 2  # opened a product
CARTED = 4  # added to the cart (members only)


class TrafficCount(TenantOwned, Base):
    """Storefront hits of one day: ``product_id`` "" holds the product-list hits."""

    __tablename__ = "analytics_traffic"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    list_views: Mapped[int] = mapped_column(default=0)
    views: Mapped[int] = mapped_column(default=0)
    cart_adds: Mapped[int] = mapped_column(default=0)


class VisitorDay(TenantOwned, Base):
    """A visitor seen on a day: ``m:<member id>`` when signed in, else ``v:<client id>``."""

    __tablename__ = "analytics_visitors"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    visitor: Mapped[str] = mapped_column(String(72), primary_key=True)
    stages: Mapped[int] = mapped_column(default=0)


class DayRollup(TenantOwned, Base):
    """A store's day. Money is fen; people are distinct within the day."""

    __tablename__ = "analytics_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # Orders paid this day (GMV is gross: a later refund lowers the later day's net revenue).
    gmv: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_orders: Mapped[int] = mapped_column(default=0)
    paying_members: Mapped[int] = mapped_column(default=0)
    new_buyers: Mapped[int] = mapped_column(default=0)  # their first payment ever
    returning_buyers: Mapped[int] = mapped_column(default=0)
    # Refunds that succeeded this day, of orders that counted in some day's GMV.
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    refund_orders: Mapped[int] = mapped_column(default=0)
    net_revenue: Mapped[int] = mapped_column(BigInteger, default=0)  # gmv - refunded
    # The funnel: visitors → product viewers → cart → order → paid.
    visitors: Mapped[int] = mapped_column(default=0)
    product_viewers: Mapped[int] = mapped_column(default=0)
    cart_members: Mapped[int] = mapped_column(default=0)
    ordering_members: Mapped[int] = mapped_column(default=0)
    list_views: Mapped[int] = mapped_column(default=0)
    product_views: Mapped[int] = mapped_column(default=0)
    cart_adds: Mapped[int] = mapped_column(default=0)
    orders_placed: Mapped[int] = mapped_column(default=0)


class ProductDay(TenantOwned, Base):
    __tablename__ = "analytics_product_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    views: Mapped[int] = mapped_column(default=0)
    cart_adds: Mapped[int] = mapped_column(default=0)
    paid_orders: Mapped[int] = mapped_column(default=0)
    units: Mapped[int] = mapped_column(default=0)
    sales: Mapped[int] = mapped_column(
        BigInteger, default=0
    )  # fen of its lines in orders paid this day


class SourceDay(TenantOwned, Base):
    """Traffic and paid orders by source: ``direct`` holds the orders no plugin claimed."""

    __tablename__ = "analytics_source_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    list_views: Mapped[int] = mapped_column(default=0)
    views: Mapped[int] = mapped_column(default=0)
    cart_adds: Mapped[int] = mapped_column(default=0)
    orders: Mapped[int] = mapped_column(default=0)
    gmv: Mapped[int] = mapped_column(BigInteger, default=0)
    benefit: Mapped[int] = mapped_column(BigInteger, default=0)


class MemberRfm(TenantOwned, Base):
    """A buying member's recency, frequency and monetary scores (1–5, by quintile within the
    store) and segment, as of the last computation. Members with no purchase have none."""

    __tablename__ = "analytics_member_rfm"
    __table_args__ = (
        tenant_fk(["member_id"], "members"),
        Index("ix_analytics_member_rfm_tenant_segment", "tenant_id", "segment"),
    )

    member_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    first_paid_at: Mapped[datetime]
    last_paid_at: Mapped[datetime]
    orders: Mapped[int]  # purchases: paid orders not wholly refunded
    monetary: Mapped[int] = mapped_column(BigInteger)  # fen paid for them, net of partial refunds
    r: Mapped[int]
    f: Mapped[int]
    m: Mapped[int]
    segment: Mapped[str] = mapped_column(String(24))
    computed_at: Mapped[datetime]


class SegmentDay(TenantOwned, Base):
    """The segments' sizes as computed on a day (their trend)."""

    __tablename__ = "analytics_segment_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    segment: Mapped[str] = mapped_column(String(24), primary_key=True)
    members: Mapped[int]
    monetary: Mapped[int] = mapped_column(BigInteger)


class CohortCell(TenantOwned, Base):
    """Members whose first purchase was in ``cohort`` (a month, ``YYYY-MM``) who bought in
    ``month``."""

    __tablename__ = "analytics_cohorts"

    cohort: Mapped[str] = mapped_column(String(7), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    members: Mapped[int]
