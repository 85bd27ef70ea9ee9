"""core.jobs: the same behaviour on the in-process and the SAQ/Redis backend."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.jobs import (
    CronSpec,
    InProcessQueue,
    JobQueue,
    JobSpec,
    SaqQueue,
    UnknownJobError,
    build_queue,
)
from storeplug.testing import eventually

# SAQ 0.26 calls redis-py's deprecated setex; not ours to fix.

REDIS_URL = os.environ.get("STOREPLUG_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


class Harness:
    """Builds started queues of one backend; the fixture tears them down."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.name = f"{{sptest-{uuid.uuid4().hex}}}"  # unique per test: no collisions
        self.queues: list[JobQueue] = []
        self.workers: list[asyncio.Task[None]] = []

    async def make(
        self,
        specs: Sequence[JobSpec],
        crons: Sequence[CronSpec] = (),
        context: Any = None,
        workers: int = 1,
    ) -> JobQueue:
        queue: JobQueue
        if self.backend == "redis":
            saq = SaqQueue(REDIS_URL, specs, crons, context, name=self.name)
            await saq.start()
            self.workers += [asyncio.create_task(saq.run_worker()) for _ in range(workers)]
            queue = saq
        else:
            queue = InProcessQueue(specs, crons, context)
            await queue.start()
        self.queues.append(queue)
        return queue

    async def close(self) -> None:
        for worker in self.workers:
            worker.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)
        for queue in self.queues:
            await queue.stop()


async def _flush(client: aioredis.Redis, name: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"*{name}*")]
    if keys:
        await client.delete(*keys)


@pytest.fixture(params=["inprocess", "redis"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    h = Harness(request.param)
    client: aioredis.Redis | None = None
    if h.backend == "redis":
        client = aioredis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            await client.aclose()
            reason = f"Redis at {REDIS_URL} does not answer ({exc}); set STOREPLUG_TEST_REDIS_URL"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        await _flush(client, h.name)
    try:
        yield h
    finally:
        await h.close()
        if client is not None:
            await _flush(client, h.name)
            await client.aclose()


async def test_job_gets_kwargs_and_context(harness: Harness) -> None:
    seen: list[tuple[Any, dict[str, Any]]] = []

    async def record(ctx: Any, **kwargs: Any) -> None:
        seen.append((ctx, kwargs))

    context = {"app": "storeplug"}
    queue = await harness.make([JobSpec("t.record", record)], context=context)
    await queue.enqueue("t.record", order_id="o1", amount=3, tags=("a", "b"))
    await eventually(lambda: len(seen) == 1)
    assert seen[0][0] is context
    # JSON round trip on both backends: a tuple arrives as a list
    assert seen[0][1] == {"order_id": "o1", "amount": 3, "tags": ["a", "b"]}
    with pytest.raises(TypeError):
        await queue.enqueue("t.record", when=object())


async def test_enqueue_in_runs_later_not_earlier(harness: Harness) -> None:
    ran_at: list[float] = []

    async def record(ctx: Any) -> None:
        ran_at.append(time.time())

    queue = await harness.make([JobSpec("t.later", record)])
    start = time.time()
    await queue.enqueue_in(1.0, "t.later")
    await asyncio.sleep(0.8)
    assert ran_at == []
    await eventually(lambda: len(ran_at) == 1)
    assert ran_at[0] - start >= 0.99


async def test_failing_job_is_retried(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[float] = []
    done: list[bool] = []

    async def flaky(ctx: Any) -> None:
        attempts.append(time.monotonic())
        if len(attempts) <= 2:
            raise RuntimeError("boom")
        done.append(True)

    caplog.set_level(logging.WARNING, logger="storeplug.jobs")
    spec = JobSpec("t.flaky", flaky, retries=3, retry_delay_s=0.2)
    queue = await harness.make([spec])
    await queue.enqueue("t.flaky")
    await eventually(lambda: bool(done))
    assert len(attempts) == 3
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(attempts))
    failures = [r for r in caplog.records if r.name == "storeplug.jobs"]
    assert len(failures) == 2
    assert all("t.flaky" in r.getMessage() for r in failures)


async def test_job_is_dropped_after_last_retry(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []

    async def broken(ctx: Any) -> None:
        attempts.append(1)
        raise RuntimeError("always")

    caplog.set_level(logging.WARNING, logger="storeplug.jobs")
    queue = await harness.make([JobSpec("t.broken", broken, retries=1, retry_delay_s=0.0)])
    await queue.enqueue("t.broken")
    await eventually(lambda: any("giving up" in r.getMessage() for r in caplog.records))
    await asyncio.sleep(0.3)
    assert len(attempts) == 2


async def test_key_deduplicates_until_finished(harness: Harness) -> None:
    runs: list[int] = []
    finished: list[int] = []
    gate = asyncio.Event()

    async def slow(ctx: Any, n: int) -> None:
        runs.append(n)
        if n < 5:
            await gate.wait()
        finished.append(n)

    queue = await harness.make([JobSpec("t.slow", slow)])
    await queue.enqueue_in(1.0, "t.slow", key="later", n=5)
    await queue.enqueue_in(1.0, "t.slow", key="later", n=6)  # scheduled one holds the key
    await queue.enqueue("t.slow", key="k", n=1)
    await eventually(lambda: 1 in runs)
    await queue.enqueue("t.slow", key="k", n=2)  # still running: a no-op
    await queue.enqueue("t.slow", key="other", n=3)
    await eventually(lambda: 3 in runs)
    gate.set()
    await eventually(lambda: 1 in finished and 3 in finished)
    # The key is free again once the job is finished; SAQ records that just after the
    # function returns, so retry until it takes (while n=4 is queued, retries are no-ops).
    async with asyncio.timeout(10):
        while 4 not in runs:
            await queue.enqueue("t.slow", key="k", n=4)
            await asyncio.sleep(0.05)
    await eventually(lambda: 4 in finished and 5 in finished)
    assert sorted(runs) == [1, 3, 4, 5]  # not 2, not 6


async def test_unknown_job_is_refused(harness: Harness) -> None:
    async def noop(ctx: Any) -> None:
        pass

    # No worker: one cancelled as it starts takes SAQ a second to stop.
    queue = await harness.make([JobSpec("t.noop", noop)], workers=0)
    with pytest.raises(UnknownJobError):
        await queue.enqueue("t.nope")
    with pytest.raises(ValueError, match=r"t\.nope"):
        await queue.enqueue_in(1.0, "t.nope")
    with pytest.raises(UnknownJobError):
        await harness.make([JobSpec("t.noop", noop)], [CronSpec("t.nope", "* * * * *")])


async def test_cron_fires_once_per_tick(harness: Harness) -> None:
    ticks: list[float] = []
    seen: list[dict[str, Any]] = []

    async def tick(ctx: Any, **kwargs: Any) -> None:
        ticks.append(time.time())
        seen.append(kwargs)

    # A 6th cron field is seconds (croniter, used by both backends); two SAQ workers on one
    # queue must still run each tick once.
    crons = [CronSpec("t.tick", "* * * * * *", {"src": "cron"})]
    await harness.make([JobSpec("t.tick", tick)], crons, workers=2)
    await eventually(lambda: len(ticks) >= 2)
    assert seen[0] == {"src": "cron"}
    # Ticks are about a second apart; one tick run by both workers would be ~0 s apart.
    assert all(b - a > 0.5 for a, b in itertools.pairwise(ticks))


async def test_inprocess_drain_and_stop() -> None:
    runs: list[str] = []

    async def record(ctx: Any, what: str) -> None:
        await asyncio.sleep(0.05)
        runs.append(what)

    async def hang(ctx: Any) -> None:
        await asyncio.Event().wait()

    queue = InProcessQueue([JobSpec("t.rec", record), JobSpec("t.hang", hang)], [], None)
    await queue.enqueue("t.rec", what="now")
    await queue.enqueue_in(60, "t.rec", what="later")
    await queue.drain()
    assert runs == ["now"]
    await queue.enqueue("t.hang")
    with pytest.raises(TimeoutError):
        await queue.drain(timeout_s=0.1)
    await queue.stop()  # cancels the hanging and the scheduled job
    await queue.drain(timeout_s=0.1)
    assert runs == ["now"]
    with pytest.raises(RuntimeError):
        await queue.enqueue("t.rec", what="after stop")


def test_saq_wiring() -> None:
    async def noop(ctx: Any) -> None:
        pass

    specs = [JobSpec("t.noop", noop)]
    crons = [CronSpec("t.noop", "*/5 * * * *", {"a": 1}), CronSpec("t.noop", "0 3 * * *")]
    queue = build_queue(REDIS_URL, specs, crons, None)  # no connection until start()
    assert isinstance(queue, SaqQueue)
    assert [(c.cron, c.unique, c.kwargs) for c in queue.cron_jobs] == [
        ("*/5 * * * *", True, {"a": 1}),
        ("0 3 * * *", True, {}),
    ]
    # one name per CronSpec, so their unique keys ("cron:<name>") differ
    assert len({c.function.__qualname__ for c in queue.cron_jobs}) == 2
    assert isinstance(build_queue(None, specs, crons, None), InProcessQueue)
    with pytest.raises(ValueError, match="hash tag"):
        SaqQueue(REDIS_URL, specs, [], None, name="storeplug")
    with pytest.raises(ValueError, match="invalid cron"):
        InProcessQueue(specs, [CronSpec("t.noop", "every minute")], None)
