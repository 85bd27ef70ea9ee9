"""Analytics at scale on PostgreSQL: one store with 1,000,000 orders from 200,000 members over
a year, and 1,000 small stores beside it. Measures the nightly rollups, the dashboard query,
the console's summary, repurchase and the nightly RFM.

The data set is generated set-wise in SQL (``generate_series``, a fixed ``setseed``) as the
superuser, not row by row through the ORM; everything measured then runs as the app role,
with row-level security on, through the same functions the job and the API call.

    uv run python -m bench.analytics            # the full size (about 10 minutes to seed)
    uv run python -m bench.analytics --orders 100000 --members 20000 --small-tenants 100

The database ``storeplug_bench_analytics`` is dropped and created anew, and dropped at the end
unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg

from bench.flashsale_setup import DEFAULT_PG_SUPER_URL, fresh_database
from core.analytics import buyers, rfm, service
from core.analytics.events import local_day
from core.analytics.jobs import roll_day
from core.analytics.rollup import compute_day
from core.analytics.sales import sales_summary
from core.context import Principal, TenantInfo
from core.runtime import Runtime
from core.settings import load_settings
from storeplug.runtime import build_runtime, upgrade_database

DATABASE = "storeplug_bench_analytics"
BIG = "B" + "0" * 25
PRODUCTS = 200


def small_id(n: int) -> str:
    return f"T{n:025d}"


# The plan and the tenants: $1 the big store's id, $2 how many small stores.
STORES_SQL = [
    "SELECT setseed(0.42)",
    "INSERT INTO plans (code, name, plugins, created_at) VALUES ('bench', 'Bench', '[]', now())",
    """
    INSERT INTO tenants (id, slug, name, plan, status, branding, contact, created_at, updated_at)
    SELECT id, slug, slug, 'bench', 'active', '{}', '{}', now(), now()
    FROM (SELECT $1::text AS id, 'big' AS slug
          UNION ALL
          SELECT 'T' || lpad(n::text, 25, '0'), 'small-' || n FROM generate_series(1, $2::int) n) t
    """,
]

# Per tenant ($1), formatted with its members, orders, days and products (integers).
TENANT_SQL = [
    """
    INSERT INTO products (tenant_id, id, title, subtitle, images, description, status, sort, tags,
                          sales, min_price, created_at, updated_at)
    SELECT $1::varchar, 'P' || lpad(p::text, 25, '0'), '商品 ' || p, '', '[]', '', 'on', 0, '[]',
           0, 1000, now(), now()
    FROM generate_series(0, {products} - 1) p
    """,
    """
    INSERT INTO skus (tenant_id, id, product_id, specs, price, weight_g, stock, safety_stock,
                      active, created_at)
    SELECT $1::varchar, 'S' || lpad(p::text, 25, '0'), 'P' || lpad(p::text, 25, '0'), '{{}}',
           1000, 0, 1000000, 0, true, now()
    FROM generate_series(0, {products} - 1) p
    """,
    """
    INSERT INTO members (tenant_id, id, openid, nickname, avatar_url, gender, total_paid, source,
                         source_ref, tags, created_at, last_login_at)
    SELECT $1::varchar, 'M' || lpad(m::text, 25, '0'), 'o-' || m, 'member ' || m, '', 0, 0,
           'direct', '', CASE WHEN m % 10 = 0 THEN '["vip"]' ELSE '[]' END::jsonb,
           now() - interval '400 days', now()
    FROM generate_series(0, {members} - 1) m
    """,
    # Orders: members skewed (a few buy often), a year of days, 2% never paid, 3% refunded
    # whole, 2% in part.
    """
    WITH src AS (
        SELECT g, random() AS rm, random() AS rt, random() AS ra, random() AS rs
        FROM generate_series(1, {orders}) g
    ), o AS (
        SELECT g, 'M' || lpad(floor(power(rm, 2) * {members})::int::text, 25, '0') AS member_id,
               now() - interval '1 minute' - rt * ({days} * interval '1 day') AS created_at,
               1000 + floor(ra * 20000)::int AS amount, rs
        FROM src
    )
    INSERT INTO orders (tenant_id, id, number, member_id, status, items_total, discount_total,
                        shipping_fee, payable, paid_amount, refunded_amount, refund_held,
                        fulfillment, fulfillment_data, fulfillment_hold, adjustments, note,
                        cancel_reason, carrier, tracking_no, payment_deadline, paid_at,
                        created_at, updated_at)
    SELECT $1::varchar, 'O' || lpad(g::text, 25, '0'), 'N' || g, member_id,
           CASE WHEN rs < 0.02 THEN 'cancelled' WHEN rs < 0.05 THEN 'refunded' ELSE 'completed' END,
           amount, 0, 0, amount,
           CASE WHEN rs < 0.02 THEN 0 ELSE amount END,
           CASE WHEN rs < 0.02 THEN 0 WHEN rs < 0.05 THEN amount WHEN rs < 0.07 THEN amount / 2
                ELSE 0 END,
           CASE WHEN rs < 0.02 THEN 0 WHEN rs < 0.05 THEN amount WHEN rs < 0.07 THEN amount / 2
                ELSE 0 END,
           'express', '{{}}', '',
           CASE WHEN g % 25 = 0 THEN
                '[{{"source": "points", "label": "积分抵扣", "amount": -100, "stage": "points"}}]'
                ELSE '[]' END::jsonb,
           '', '', '', '', created_at + interval '15 minutes',
           CASE WHEN rs < 0.02 THEN NULL ELSE created_at + interval '30 seconds' END,
           created_at, created_at
    FROM o
    """,
    """
    INSERT INTO order_lines (tenant_id, id, order_id, sku_id, product_id, title, sku_label, image,
                             unit_price, quantity, line_total, adjustments, activity,
                             refunded_quantity, refund_held_quantity, stock_held_by)
    SELECT $1::varchar, 'L' || substr(id, 2), id,
           'S' || lpad((abs(hashtext(id)) % {products})::text, 25, '0'),
           'P' || lpad((abs(hashtext(id)) % {products})::text, 25, '0'), '商品', '', '',
           items_total, 1, items_total, '[]',
           CASE WHEN abs(hashtext(id)) % 20 = 0 THEN 'flashsale:A1' ELSE '' END, 0, 0, ''
    FROM orders WHERE tenant_id = $1::varchar
    """,
    """
    INSERT INTO payments (tenant_id, id, order_id, member_id, provider, amount, status, prepay_id,
                          expires_at, transaction_id, paid_amount, paid_at, late, created_at,
                          updated_at)
    SELECT $1::varchar, 'Y' || substr(id, 2), id, member_id, 'sandbox', paid_amount,
           'succeeded', '', payment_deadline, '', paid_amount, paid_at, false, paid_at, paid_at
    FROM orders WHERE tenant_id = $1::varchar AND refunded_amount > 0
    """,
    """
    INSERT INTO refunds (tenant_id, id, order_id, payment_id, member_id, provider, amount, status,
                         lines, whole_order, reason, photos, requested_by, decided_by,
                         reject_reason, provider_refund_id, provider_status, restock, created_at,
                         succeeded_at, updated_at)
    SELECT $1::varchar, 'R' || substr(id, 2), id, 'Y' || substr(id, 2), member_id, 'sandbox',
           refunded_amount, 'succeeded', '[]', refunded_amount = paid_amount, '', '[]',
           'member:' || member_id, '', '', '', 'SUCCESS', false, at, at, at
    FROM (SELECT *, least(paid_at + (abs(hashtext(id)) % 10) * interval '1 day', now()) AS at
          FROM orders WHERE tenant_id = $1::varchar AND refunded_amount > 0) r
    """,
    # Traffic, as the flushes would have left it: every product every day, a share source,
    # the list pages; and visitors (3% of members a day, and as many anonymous ones).
    """
    INSERT INTO analytics_traffic
        (tenant_id, day, product_id, source, list_views, views, cart_adds)
    SELECT $1::varchar, d::date, 'P' || lpad(p::text, 25, '0'), s.source, 0,
           floor(random() * 60)::int, floor(random() * 6)::int
    FROM generate_series(current_date - {days}, current_date, interval '1 day') d,
         generate_series(0, {products} - 1) p, (VALUES ('direct'), ('share')) s(source)
    UNION ALL
    SELECT $1::varchar, d::date, '', 'direct', 2000 + floor(random() * 1000)::int, 0, 0
    FROM generate_series(current_date - {days}, current_date, interval '1 day') d
    """,
    """
    INSERT INTO analytics_visitors (tenant_id, day, visitor, stages)
    SELECT $1::varchar, d::date,
           CASE WHEN v % 2 = 0 THEN 'm:M' || lpad((v * 7919 % {members})::text, 25, '0')
                ELSE 'v:anon-' || v END,
           CASE WHEN random() < 0.2 THEN 7 WHEN random() < 0.6 THEN 3 ELSE 1 END
    FROM generate_series(current_date - {days}, current_date, interval '1 day') d,
         generate_series(1, greatest({members} * 3 / 100, 10)) v
    """,
]


async def seed(super_url: str, args: argparse.Namespace) -> dict[str, float]:
    timings: dict[str, float] = {}
    conn = await asyncpg.connect(super_url.rsplit("/", 1)[0] + f"/{DATABASE}")
    try:
        started = time.perf_counter()
        for sql in STORES_SQL:
            await conn.execute(sql, *((BIG, args.small_tenants) if "$1" in sql else ()))
        sizes = {"members": args.members, "orders": args.orders, "days": args.days}
        for sql in TENANT_SQL:
            await conn.execute(sql.format(**sizes, products=PRODUCTS), BIG)
        timings["seed the big store"] = time.perf_counter() - started
        started = time.perf_counter()
        for n in range(1, args.small_tenants + 1):
            for sql in TENANT_SQL:
                small = {"members": 20, "orders": 50, "days": args.days, "products": 5}
                await conn.execute(sql.format(**small), small_id(n))
        timings["seed the small stores"] = time.perf_counter() - started
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return timings


Timed = Callable[[], Awaitable[Any]]


async def measure(name: str, fn: Timed, runs: int, results: list[tuple[str, str]]) -> Any:
    samples = []
    value = None
    for _ in range(runs):
        started = time.perf_counter()
        value = await fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    results.append(
        (
            name,
            f"{statistics.median(samples):.1f} ms median, {p95:.1f} ms p95, "
            f"{samples[-1]:.1f} ms max ({runs} runs)",
        )
    )
    print(name, results[-1][1], flush=True)
    return value


async def run(args: argparse.Namespace) -> str:
    super_url = os.environ.get("STOREPLUG_BENCH_PG_SUPER_URL", DEFAULT_PG_SUPER_URL)
    owner, app = await fresh_database(super_url, DATABASE)
    settings = load_settings(
        {},
        database_url=app,
        migration_database_url=owner,
        redis_url="",
        vendor_token="spv_bench",
        secret_key="bench-secret-key-0123456789abcdefghijklmnop",
        log_level="WARNING",
    )
    await asyncio.to_thread(upgrade_database, settings)
    print("seeding…", flush=True)
    timings = await seed(super_url, args)
    rt: Runtime = build_runtime(settings)
    lines = [f"{name}: {seconds:.1f} s" for name, seconds in timings.items()]
    results: list[tuple[str, str]] = []
    try:
        big = await rt.tenants.resolve("big")
        today = local_day()
        principal = Principal(kind="staff", id="bench", role="owner", tenant_id=big.id)

        # The nightly catch-up: every past day of the year, one transaction a day.
        started = time.perf_counter()
        day_times = []
        for offset in range(args.days, 0, -1):
            t0 = time.perf_counter()
            await roll_day(rt, big, today - timedelta(days=offset))
            day_times.append((time.perf_counter() - t0) * 1000)
        total = time.perf_counter() - started
        day_times.sort()
        results.append(
            (
                f"roll up {args.days} past days of the big store",
                f"{total:.1f} s; a day {statistics.median(day_times):.0f} ms median, "
                f"{day_times[-1]:.0f} ms max",
            )
        )
        print(results[-1], flush=True)

        async def again() -> None:
            await roll_day(rt, big, today - timedelta(days=1))

        await measure("roll up yesterday again (the nightly run)", again, 5, results)

        async def in_ctx(tenant: TenantInfo, fn: Callable[[Any], Awaitable[Any]]) -> Any:
            async with rt.tenant_context(tenant, principal) as ctx:
                return await fn(ctx)

        lens = service.Lens(hooks=rt.plugins.all_hooks, labels=rt.events.labels)
        for days in (30, 365):
            start = today - timedelta(days=days - 1)

            async def board(start: Any = start) -> Any:
                return await in_ctx(big, lambda ctx: service.dashboard(ctx, lens, start, today))

            found = await measure(
                f"dashboard, {days} days with the period before (today live)",
                board,
                args.runs,
                results,
            )
        assert found.totals.paid_orders > 0

        async def today_only() -> Any:
            return await in_ctx(big, lambda ctx: compute_day(ctx, today, rt.plugins.all_hooks))

        live = await measure("today computed live", today_only, args.runs, results)
        lines.append(f"today so far: {live.paid_orders} paid orders, GMV {live.gmv} fen")

        async def summary() -> Any:
            return await in_ctx(big, lambda ctx: sales_summary(ctx))

        await measure("console dashboard summary (today, 7, 30 days)", summary, args.runs, results)

        async def repurchase() -> Any:
            return await in_ctx(
                big,
                lambda ctx: buyers.repurchase(ctx, today - timedelta(days=29), today, 30),
            )

        await measure("repurchase, 30-day window within 30 days", repurchase, 5, results)

        async def scores() -> Any:
            return await in_ctx(big, lambda ctx: rfm.recompute(ctx))

        scored = await measure(
            "nightly RFM, segments and cohorts of the big store", scores, 3, results
        )
        lines.append(f"members scored: {scored}")

        async def sizes() -> Any:
            return await in_ctx(big, lambda ctx: buyers.segment_sizes(ctx))

        await measure("segment sizes and trend", sizes, args.runs, results)

        # The small stores' nightly rollup of yesterday, one after another.
        started = time.perf_counter()
        for n in range(1, args.small_tenants + 1):
            tenant = await rt.tenants.by_id(small_id(n))
            assert tenant is not None
            await roll_day(rt, tenant, today - timedelta(days=1))
        results.append(
            (
                f"roll up yesterday for {args.small_tenants} small stores",
                f"{time.perf_counter() - started:.1f} s",
            )
        )
    finally:
        await rt.close()
        if not args.keep:
            conn = await asyncpg.connect(super_url)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            finally:
                await conn.close()
    header = (
        f"{args.orders:,} orders, {args.members:,} members over {args.days} days in one store; "
        f"{args.small_tenants} small stores (20 members, 50 orders each)"
    )
    table = ["| measured | result |", "| --- | --- |"] + [f"| {n} | {r} |" for n, r in results]
    return "\n".join([header, "", *lines, "", *table])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--small-tenants", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    print(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
