"""Jobs enqueued through ``ctx.jobs`` leave only when the transaction commits."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from core.jobs import InProcessQueue
from core.runtime import Runtime
from storeplug.testing import onboard
from tests.plugins.echo import plugin as echo


async def settle(rt: Runtime, event: tuple[str, str, str]) -> None:
    if isinstance(rt.jobs, InProcessQueue):
        await rt.jobs.drain()
    async with asyncio.timeout(10):
        while event not in echo.EVENTS:  # noqa: ASYNC110 - polling the job's effect
            await asyncio.sleep(0.05)


class Abort(Exception):
    pass


async def test_jobs_wait_for_the_commit_and_vanish_on_rollback(
    client: httpx.AsyncClient, rt: Runtime, worker: None
) -> None:
    merchant = await onboard(client)
    tenant = await rt.tenants.resolve(merchant.slug)

    with pytest.raises(Abort):
        async with rt.tenant_context(tenant) as ctx:
            await ctx.jobs.enqueue("echo.record", tenant_id=tenant.id, note="rolled back")
            raise Abort

    committed = ("job", tenant.id, "committed")
    async with rt.tenant_context(tenant) as ctx:
        await ctx.jobs.enqueue("echo.record", tenant_id=tenant.id, note="committed")
        await asyncio.sleep(0.3)
        # Still inside the transaction: nothing has been sent yet.
        assert committed not in echo.EVENTS
    await settle(rt, committed)
    assert ("job", tenant.id, "rolled back") not in echo.EVENTS
