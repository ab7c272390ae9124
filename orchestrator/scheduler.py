"""APScheduler wiring: it only decides *when* to look; the work is in tables, claimed there.

Jobs: the dispatch pass (every `interval`, and at once when woken), the outbox, campaign
schedules, and the lease reaper. A wake comes in-process (an event was recorded here) or
from another process through PostgreSQL LISTEN/NOTIFY.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.clock import Clock
from orchestrator.dispatcher import Dispatcher
from orchestrator.engine_metrics import PASS_FAILURES, observe_pass
from orchestrator.housekeeping import reap_leases
from orchestrator.outbox import Outbox
from orchestrator.schedules import ScheduleRunner
from orchestrator.store.signals import WAKE_CHANNEL

__all__ = ["EngineScheduler"]

_log = logging.getLogger("kizuna.scheduler")

#: The engine is stalled after this many dispatch intervals without a pass starting or
#: ending, and never sooner than `MIN_STALL` seconds.
STALL_INTERVALS = 5
MIN_STALL = 2.0


class _Drain:
    """Runs a batch job until a batch comes back short, and again if woken meanwhile.

    The work runs in a task of its own, which the scheduler's job starts and does not wait
    for: a tick during a long pass finds it running and returns (a wake makes it go round
    once more), and a batch in flight at shutdown finishes (its transaction commits)
    instead of being cut.
    Each pass is observed in the metrics, and beats the heartbeat as it starts and ends.
    """

    def __init__(self, name: str, run_once: Callable[[], Awaitable[int]], batch_size: int) -> None:
        self.name = name
        self._run_once = run_once
        self._batch_size = batch_size
        self._again = False
        self._task: asyncio.Task[None] | None = None
        #: When a pass last started or ended, on the monotonic clock: the scheduler paces
        #: its jobs in real time, whatever time the engine's `Clock` tells.
        self.beat = time.monotonic()

    async def run(self) -> None:
        """The job: start a pass, unless one is running."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name=f"kizuna-{self.name}")

    def wake(self) -> None:
        self._again = True

    async def _drain(self) -> None:
        while True:
            self._again = False
            self.beat = started = time.monotonic()
            try:
                processed = await self._run_once()
            except Exception:
                self.beat = time.monotonic()
                PASS_FAILURES.labels(self.name).inc()
                _log.exception("%s pass failed; the next pass retries", self.name)
                return
            self.beat = time.monotonic()
            observe_pass(self.name, processed, self.beat - started)
            if processed < self._batch_size and not self._again:
                return

    async def finish(self) -> None:
        """Wait for a pass in flight."""
        if self._task is not None:
            await asyncio.wait([self._task])


class EngineScheduler:
    """The engine's heartbeat in one process: `kizuna serve` and `kizuna dispatch`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        dispatcher: Dispatcher,
        outbox: Outbox,
        schedules: ScheduleRunner,
        *,
        interval: float,
        listen_url: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._schedules = schedules
        self._interval = interval
        self._listen_url = listen_url
        self._dispatch = _Drain("dispatch", dispatcher.run_once, dispatcher.batch_size)
        self._deliver = _Drain("deliver", outbox.run_once, outbox.batch_size)
        self._scheduler: AsyncIOScheduler | None = None
        self._listener: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        """Whether the scheduler is running (readiness)."""
        return self._scheduler is not None and bool(self._scheduler.running)

    @property
    def stall_after(self) -> float:
        """Seconds without a dispatch pass starting or ending after which the engine is
        stalled: a few intervals, so one slow pass or a late tick does not count."""
        return max(STALL_INTERVALS * self._interval, MIN_STALL)

    def heartbeat_age(self) -> float:
        """Seconds since a dispatch pass last started or ended (or the scheduler started)."""
        return time.monotonic() - self._dispatch.beat

    def start(self) -> None:
        """Start the jobs (in the running event loop) and, on PostgreSQL, the listener."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        now = datetime.now(UTC)
        options = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        # Jobs are bound coroutine methods: APScheduler runs anything else in a thread.
        scheduler.add_job(self._dispatch.run, "interval", seconds=self._interval,
                          id="dispatch", next_run_time=now, **options)  # fmt: skip
        scheduler.add_job(self._deliver.run, "interval", seconds=self._interval,
                          id="deliver", next_run_time=now, **options)  # fmt: skip
        scheduler.add_job(self._schedules.run_once, "interval", seconds=10,
                          id="schedules", next_run_time=now, **options)  # fmt: skip
        scheduler.add_job(reap_leases, "interval", seconds=30, args=[self._sessions, self._clock],
                          id="leases", **options)  # fmt: skip
        scheduler.start()
        self._scheduler = scheduler
        self._dispatch.beat = time.monotonic()
        if self._listen_url is not None:
            self._listener = asyncio.create_task(self._listen(self._listen_url))

    def wake(self) -> None:
        """Run the dispatcher now (new enrollments, an event someone waits for)."""
        self._dispatch.wake()
        self._run_now("dispatch")

    def wake_outbox(self) -> None:
        """Send now (the dispatcher queued messages)."""
        self._deliver.wake()
        self._run_now("deliver")

    def _run_now(self, job_id: str) -> None:
        if self._scheduler is not None and self._scheduler.running:
            job = self._scheduler.get_job(job_id)
            if job is not None:
                job.modify(next_run_time=datetime.now(UTC))

    async def stop(self) -> None:
        """Stop scheduling; let the passes in flight finish."""
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        await self._dispatch.finish()
        await self._deliver.finish()

    async def _listen(self, url: str) -> None:
        """Wake on every NOTIFY from other processes; reconnect when the line drops."""
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        delay = 1.0
        while True:
            try:
                connection = await asyncpg.connect(dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                _log.warning("cannot listen for wake-ups (%s); retrying", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            lost = asyncio.Event()
            try:
                await connection.add_listener(WAKE_CHANNEL, lambda *_: self.wake())
                connection.add_termination_listener(lambda _, lost=lost: lost.set())
                await lost.wait()
            finally:
                await connection.close()
