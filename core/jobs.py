"""Background jobs: one small API, two backends.

``SaqQueue`` runs jobs on SAQ + Redis (production; ``storeplug worker`` runs the worker).
``InProcessQueue`` runs the same job functions as asyncio tasks in the current process (demo,
tests, no Redis). ``build_queue`` picks one.

A job function is ``async def fn(ctx, **kwargs)``; ``ctx`` is the ``context`` object given to
the queue. Job functions MUST be idempotent, i.e. safe to run twice with the same kwargs: a job
runs again after a failure or a timeout, and SAQ re-queues jobs cut off by a worker shutdown or
crash. Check the state before acting ("is the order still unpaid?").

kwargs must be JSON-serialisable. Both backends round-trip them through JSON at enqueue time
(a ``TypeError`` there otherwise), so a job sees the same plain values on either backend.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec
from croniter import croniter
from saq import CronJob, Job, Worker
from saq.job import get_default_job_key
from saq.queue.redis import RedisQueue
from saq.types import Context

logger = logging.getLogger("storeplug.jobs")

JobFunction = Callable[..., Awaitable[Any]]


class UnknownJobError(ValueError):
    """No JobSpec is registered under this name."""


class JobSpec(msgspec.Struct, frozen=True):
    name: str
    function: JobFunction
    retries: int = 3  # attempts after the first failure
    timeout_s: int = 60  # 0 = no timeout
    retry_delay_s: float = 1.0


class CronSpec(msgspec.Struct, frozen=True):
    job: str
    cron: str  # UTC; croniter syntax, a 6th field means seconds ("*/5 * * * * *")
    kwargs: dict[str, Any] = {}


class JobQueue(Protocol):
    async def enqueue(self, name: str, *, key: str | None = None, **kwargs: Any) -> None: ...
    async def enqueue_in(
        self, delay_s: float, name: str, *, key: str | None = None, **kwargs: Any
    ) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def _to_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    # What SAQ stores in Redis and loads back; in-process does the same so backends match.
    decoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(kwargs))
    return decoded


def _index(specs: Sequence[JobSpec], crons: Sequence[CronSpec]) -> dict[str, JobSpec]:
    jobs: dict[str, JobSpec] = {}
    for spec in specs:
        if spec.name in jobs:
            raise ValueError(f"job {spec.name!r} is registered twice")
        jobs[spec.name] = spec
    for cron in crons:
        if cron.job not in jobs:
            raise UnknownJobError(f"cron {cron.cron!r} names unknown job {cron.job!r}")
        if not croniter.is_valid(cron.cron):
            raise ValueError(f"invalid cron {cron.cron!r} for job {cron.job!r}")
        _to_json(cron.kwargs)
    return jobs


def _lookup(jobs: dict[str, JobSpec], name: str) -> JobSpec:
    try:
        return jobs[name]
    except KeyError:
        raise UnknownJobError(f"unknown job {name!r}") from None


async def _call(spec: JobSpec, context: Any, kwargs: dict[str, Any]) -> None:
    async with asyncio.timeout(spec.timeout_s or None):
        await spec.function(context, **kwargs)


def _log_failure(spec: JobSpec, attempt: int) -> None:
    """Log a failed attempt (counted from 1) of ``spec``, from inside the ``except``."""
    total = spec.retries + 1
    if attempt < total:
        msg = "job %s failed (attempt %d of %d), retrying in %ss"
        logger.warning(msg, spec.name, attempt, total, spec.retry_delay_s, exc_info=True)
    else:
        msg = "job %s failed (attempt %d of %d), giving up"
        logger.error(msg, spec.name, attempt, total, exc_info=True)


class InProcessQueue:
    """Jobs as asyncio tasks on the running loop. Nothing survives a restart.

    Jobs run as soon as they are due (``start`` only adds the cron loops); ``stop`` cancels
    everything and is final.
    """

    def __init__(self, specs: Sequence[JobSpec], crons: Sequence[CronSpec], context: Any) -> None:
        self._jobs = _index(specs, crons)
        self._crons = list(crons)
        self._context = context
        self._tasks: dict[asyncio.Task[None], float] = {}  # job task -> loop time it is due
        self._keys: set[str] = set()
        self._cron_tasks: list[asyncio.Task[None]] = []
        self._stopped = False

    async def enqueue(self, name: str, *, key: str | None = None, **kwargs: Any) -> None:
        self._submit(_lookup(self._jobs, name), _to_json(kwargs), key, 0.0)

    async def enqueue_in(
        self, delay_s: float, name: str, *, key: str | None = None, **kwargs: Any
    ) -> None:
        self._submit(_lookup(self._jobs, name), _to_json(kwargs), key, delay_s)

    def _submit(self, spec: JobSpec, kwargs: dict[str, Any], key: str | None, delay: float) -> None:
        if self._stopped:
            raise RuntimeError("job queue is stopped")
        if key is not None:
            if key in self._keys:
                return  # same key still queued or running: a no-op, like SAQ
            self._keys.add(key)
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._run(spec, kwargs, max(delay, 0.0)), name=f"job:{spec.name}")
        self._tasks[task] = loop.time() + max(delay, 0.0)

        def done(task: asyncio.Task[None]) -> None:
            # A callback, not a finally: a task cancelled before it started runs no finally.
            self._tasks.pop(task, None)
            if key is not None:
                self._keys.discard(key)

        task.add_done_callback(done)

    async def _run(self, spec: JobSpec, kwargs: dict[str, Any], delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        attempt = 0
        while True:
            attempt += 1
            try:
                await _call(spec, self._context, kwargs)
                return
            except Exception:
                _log_failure(spec, attempt)
                if attempt > spec.retries:
                    return
            await asyncio.sleep(spec.retry_delay_s)

    async def _cron_loop(self, index: int, cron: CronSpec) -> None:
        spec = self._jobs[cron.job]
        kwargs = _to_json(cron.kwargs)
        last = datetime.now(UTC)
        while True:
            # From the later of now and the last tick, so a sleep that ends a hair early
            # cannot fire the same tick twice.
            tick: datetime = croniter(cron.cron, max(last, datetime.now(UTC))).get_next(datetime)
            await asyncio.sleep((tick - datetime.now(UTC)).total_seconds())
            last = tick
            # Keyed like SAQ's unique cron jobs: while a tick still runs, the next is skipped.
            self._submit(spec, kwargs, f"cron:{index}:{cron.job}", 0.0)

    async def start(self) -> None:
        if not self._cron_tasks and not self._stopped:
            self._cron_tasks = [
                asyncio.create_task(self._cron_loop(i, c), name=f"cron:{c.job}")
                for i, c in enumerate(self._crons)
            ]

    async def stop(self) -> None:
        self._stopped = True
        tasks = [*self._cron_tasks, *self._tasks]
        self._cron_tasks = []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @asynccontextmanager
    async def quiet(self, timeout_s: float = 15.0) -> AsyncIterator[None]:
        """No scheduled job starts inside, and the jobs due are finished first.

        For a caller about to block the loop (a test driving a synchronous browser against
        another process on the same SQLite file): a job suspended in the middle of a
        transaction would hold the database's write lock for as long as the loop is blocked.
        """
        crons, self._cron_tasks = self._cron_tasks, []
        for task in crons:
            task.cancel()
        await asyncio.gather(*crons, return_exceptions=True)
        try:
            await self.drain(timeout_s)
            yield
        finally:
            if crons:
                await self.start()

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait until no job is running, waiting to retry, or due now; later ones are left.

        Raises ``TimeoutError`` after ``timeout_s``.
        """
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout_s):
            while due := [t for t, at in self._tasks.items() if at <= loop.time()]:
                await asyncio.wait(due)


class SaqQueue:
    """Jobs on SAQ + Redis. The web side enqueues only; ``run_worker`` runs the jobs.

    Call ``start`` (connects) before ``run_worker``, and ``stop`` (disconnects, final) after.
    """

    def __init__(
        self,
        redis_url: str,
        specs: Sequence[JobSpec],
        crons: Sequence[CronSpec],
        context: Any,
        name: str = "{storeplug}",
    ) -> None:
        # SAQ names its keys saq:<name>:queued, saq:job:<name>:<key>, ... and adds no Redis
        # Cluster hash tag, yet its Lua scripts touch several of them at once: braces in the
        # name put them all in one slot.
        if not re.search(r"\{[^{}]+\}", name):
            raise ValueError(f"SAQ queue name {name!r} needs a hash tag in braces")
        self._jobs = _index(specs, crons)
        self._context = context
        self._queue = RedisQueue.from_url(
            redis_url, name=name, dump=msgspec.json.encode, load=msgspec.json.decode
        )
        self._queue.register_before_enqueue(self._before_enqueue)
        self._by_function: dict[str, JobSpec] = {}  # SAQ function name -> spec
        self._functions: list[tuple[str, Callable[..., Any]]] = []
        for spec in self._jobs.values():
            self._by_function[spec.name] = spec
            self._functions.append((spec.name, self._wrap(spec)))
        self.cron_jobs: list[CronJob[Context]] = []
        for i, cron in enumerate(crons):
            spec = self._jobs[cron.job]
            fn = self._wrap(spec)
            # saq.Worker names a cron job by its function's __qualname__ and keys the unique
            # job "cron:<qualname>"; one name per CronSpec keeps two schedules of a job apart.
            fn.__qualname__ = f"cron{i}:{cron.job}"
            self._by_function[fn.__qualname__] = spec
            self.cron_jobs.append(
                CronJob(fn, cron=cron.cron, unique=True, kwargs=_to_json(cron.kwargs))
            )

    def _wrap(self, spec: JobSpec) -> Callable[..., Coroutine[Any, Any, None]]:
        async def run(saq_ctx: Context, **kwargs: Any) -> None:
            try:
                await _call(spec, self._context, kwargs)
            except Exception:
                _log_failure(spec, saq_ctx["job"].attempts)
                raise  # SAQ retries or drops it

        return run  # returns None: results are not part of the API, and need no serialising

    async def _before_enqueue(self, job: Job) -> None:
        # One place for all jobs, including those saq.Worker.schedule makes from CronJobs
        # (CronJob has no retry_delay field).
        spec = self._by_function.get(job.function)
        if spec is None:
            return
        job.retries = spec.retries + 1  # SAQ counts all attempts, JobSpec the ones after a failure
        job.retry_delay = spec.retry_delay_s
        # _call enforces timeout_s; SAQ's timeout is a backstop that also lets its sweep
        # re-queue jobs left "active" by a dead worker.
        job.timeout = spec.timeout_s + 5 if spec.timeout_s else 0
        # SAQ's abort key is saq:abort:<job key>, without the queue name, and its enqueue script
        # uses it with the queue keys: the job key needs the hash tag too.
        if not job.key.startswith(self._queue.name):
            job.key = f"{self._queue.name}:{job.key}"

    async def enqueue(self, name: str, *, key: str | None = None, **kwargs: Any) -> None:
        await self.enqueue_in(0.0, name, key=key, **kwargs)

    async def enqueue_in(
        self, delay_s: float, name: str, *, key: str | None = None, **kwargs: Any
    ) -> None:
        _lookup(self._jobs, name)
        # Job(), not queue.enqueue(name, **kwargs): that one takes kwargs named like Job fields
        # ("timeout", "meta", ...) as job settings. SAQ schedules in whole epoch seconds;
        # rounding up never runs a job early.
        job = Job(
            function=name,
            kwargs=_to_json(kwargs),
            key=key or get_default_job_key(),
            scheduled=math.ceil(time.time() + delay_s) if delay_s > 0 else 0,
        )
        await self._queue.enqueue(job)  # None (no-op) when the key is still incomplete

    async def start(self) -> None:
        await self._queue.connect()
        await self._queue.redis.ping()  # fail fast on a bad URL

    async def stop(self) -> None:
        await self._queue.disconnect()

    async def run_worker(self, concurrency: int = 10) -> None:
        """Run a saq.Worker until cancelled (or SIGINT/SIGTERM, which it handles itself)."""
        worker: Worker[Context] = Worker(
            self._queue, self._functions, concurrency=concurrency, cron_jobs=self.cron_jobs
        )
        await self._queue.connect()
        await worker.start()
        # Worker.start swallows the cancellation to shut down; re-raise it for the caller.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError


def build_queue(
    redis_url: str | None, specs: Sequence[JobSpec], crons: Sequence[CronSpec], context: Any
) -> JobQueue:
    if redis_url:
        return SaqQueue(redis_url, specs, crons, context)
    return InProcessQueue(specs, crons, context)
