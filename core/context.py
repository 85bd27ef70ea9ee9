"""What a service or hook gets to work for one tenant: who, which session, which hooks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

# Imported at run time: litestar resolves these annotations when a handler asks for a context.
from core.jobs import JobQueue
from core.notifications.events import EventCatalog
from core.plugins import TenantHooks


class Branding(msgspec.Struct, frozen=True, kw_only=True):
    """The white-label theme of a merchant's mini-program."""

    display_name: str = ""
    logo_url: str = ""
    primary_color: str = "#07C160"
    secondary_color: str = "#FFFFFF"


class TenantInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A cached, read-only view of a tenant: everything a request needs without a query."""

    id: str
    slug: str
    name: str
    status: str
    plan: str
    plan_plugins: frozenset[str]
    enabled_plugins: frozenset[str]
    plugin_configs: dict[str, Any]
    branding: Branding

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass
class Principal:
    """Who is calling: a staff member, an API key, a member or the vendor."""

    kind: str  # "staff" | "api_key" | "member" | "vendor"
    id: str
    role: str = ""
    tenant_id: str | None = None
    # Staff only: the name to show, the chosen UI language ("" for the browser's) and the
    # session row the token belongs to (a password change ends the others).
    name: str = ""
    locale: str = ""
    session_id: str = ""


class AfterCommitJobs:
    """``ctx.jobs``: a job enqueued inside a transaction is sent once the transaction has
    committed, so a rolled-back order never sends its "order placed" message."""

    def __init__(self, queue: JobQueue, ctx: TenantContext) -> None:
        self.queue = queue
        self._ctx = ctx

    async def enqueue(self, name: str, *, key: str | None = None, **kwargs: Any) -> None:
        async def send() -> None:
            await self.queue.enqueue(name, key=key, **kwargs)

        self._ctx.after_commit(send)

    async def enqueue_in(
        self, delay_s: float, name: str, *, key: str | None = None, **kwargs: Any
    ) -> None:
        async def send() -> None:
            await self.queue.enqueue_in(delay_s, name, key=key, **kwargs)

        self._ctx.after_commit(send)


@dataclass
class TenantContext:
    tenant: TenantInfo
    session: AsyncSession
    hooks: TenantHooks
    queue: JobQueue
    principal: Principal | None = None
    # Every declared notification event (``core.notifications.service.notify`` checks them).
    notification_events: EventCatalog = field(default_factory=EventCatalog)
    extras: dict[str, Any] = field(default_factory=dict)
    _after_commit: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def after_commit(self, callback: Callable[[], Awaitable[Any]]) -> None:
        """Run ``callback`` once this context's transaction has committed (enqueue a job,
        invalidate a cache); it is dropped if the transaction rolls back."""
        self._after_commit.append(callback)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Undo what the block wrote, and the after-commit work it queued, if it raises; the
        rest of the transaction goes on. For a handler that catches a service's error to show
        it (a console form) instead of letting it roll the whole request back."""
        mark = len(self._after_commit)
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            del self._after_commit[mark:]
            raise

    @property
    def tenant_id(self) -> str:
        return self.tenant.id

    @property
    def jobs(self) -> AfterCommitJobs:
        return AfterCommitJobs(self.queue, self)
