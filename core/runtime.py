"""The process-wide services, built once at start-up and shared by requests and jobs.

Core does not know the layers above it: the composition root (``storeplug.runtime``) hands in
the plugin registry (built-ins included) and the staff authenticator of ``tenants``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from redis.asyncio import BlockingConnectionPool, Redis

import core.models  # noqa: F401  (every core table is mapped before the first query)
from core.analytics.events import EventBuffer
from core.auth import StaffAuthenticator
from core.context import Principal, TenantContext, TenantInfo
from core.db import Database, create_engine
from core.jobs import CronSpec, JobQueue, JobSpec, build_queue
from core.notifications.events import EventCatalog, build_catalog
from core.payments.providers import PaymentProvider, index_providers
from core.plugins import PluginRegistry
from core.ratelimit import FailureCounter
from core.settings import Settings
from core.tenancy.directory import TenantDirectory


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: Redis | None
    plugins: PluginRegistry
    tenants: TenantDirectory
    # Staff logins: 10 failures for one username lock it for 15 minutes.
    login_failures: FailureCounter
    # Every registered payment provider by name (``register_payment_providers``).
    payment_providers: dict[str, PaymentProvider]
    # Resolves a staff session or API key within a tenant (``tenants.service.authenticate``).
    authenticate: StaffAuthenticator
    # Storefront traffic not yet written (``core.analytics.events``); flushed in the background.
    events: EventBuffer
    # Every notification event the core and the plugins declare.
    notification_events: EventCatalog
    # Set right after construction: job functions receive the runtime as their context.
    jobs: JobQueue = field(init=False)

    @classmethod
    def build(
        cls, settings: Settings, plugins: PluginRegistry, authenticate: StaffAuthenticator
    ) -> Runtime:
        db = Database(create_engine(settings.database_url))
        redis: Redis | None = None
        if settings.redis_url:
            # A blocking pool: past its connections a burst waits for one (up to 20 s)
            # instead of failing with MaxConnectionsError, the default pool's answer.
            pool = BlockingConnectionPool.from_url(settings.redis_url, max_connections=100)
            redis = Redis.from_pool(pool)
        specs: list[JobSpec] = [s for batch in plugins.pm.hook.register_jobs() for s in batch]
        crons: list[CronSpec] = [c for batch in plugins.pm.hook.register_cron() for c in batch]
        runtime = cls(
            settings=settings,
            db=db,
            redis=redis,
            plugins=plugins,
            tenants=TenantDirectory(
                db,
                redis,
                {name: meta.feature for name, meta in plugins.metas.items()},
                plugins.requires,
            ),
            login_failures=FailureCounter(redis, limit=10, window_s=15 * 60),
            payment_providers=index_providers(plugins.pm.hook.register_payment_providers()),
            authenticate=authenticate,
            events=EventBuffer(
                {
                    source.name: source.label
                    for batch in plugins.pm.hook.analytics_sources()
                    for source in batch
                }
            ),
            notification_events=build_catalog(plugins.pm),
        )
        runtime.jobs = build_queue(settings.redis_url or None, specs, crons, runtime)
        return runtime

    async def start(self) -> None:
        """What a serving process runs beside requests: the job queue and the traffic flush."""
        await self.jobs.start()
        self.events.start(self.db)

    async def close(self) -> None:
        await self.events.stop(self.db)
        await self.jobs.stop()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()

    @asynccontextmanager
    async def tenant_context(
        self, tenant: TenantInfo, principal: Principal | None = None
    ) -> AsyncIterator[TenantContext]:
        """One transaction for one tenant; commits when the block ends without an error."""
        async with self.db.tenant_session(tenant.id) as session:
            ctx = TenantContext(
                tenant=tenant,
                session=session,
                hooks=self.plugins.hooks_for(tenant.enabled_plugins),
                queue=self.jobs,
                principal=principal,
                notification_events=self.notification_events,
            )
            yield ctx
        for callback in ctx._after_commit:
            await callback()
