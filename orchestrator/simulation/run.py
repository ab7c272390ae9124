"""The engine on a virtual clock: the real dispatcher, admission, policy and steps, pass
after pass, with the assumed contacts answering after each, the clock jumping to the next
due time.

Delivery is the one part not run: a queued message is marked sent at once, as a far end
that takes everything would have it. What the outbox does besides (MIME, SMTP, retries)
changes no decision, and costs more than the whole forecast may."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import Channel
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import FakeClock
from orchestrator.dispatcher import Dispatcher
from orchestrator.rendering import Renderer
from orchestrator.simulation.assumptions import Assumptions
from orchestrator.simulation.copy import Snapshot, write_snapshot
from orchestrator.simulation.engagement import Engagement
from orchestrator.simulation.scratch import Scratch, scratch_database
from orchestrator.store.simulation import Row, SimulationStore

__all__ = ["RunResult", "in_memory_channels", "off_loop", "run_copy", "run_engine"]

T = TypeVar("T")

#: The least the clock moves when something is due now yet nothing moved (never waits).
_TICK = timedelta(seconds=1)
#: Enrollments a pass takes: larger than a live dispatcher's, as nothing else waits for the
#: scratch database and each pass has a fixed cost.
_BATCH = 2_000


def in_memory_channels(channels: Mapping[str, Channel]) -> dict[str, Channel]:
    """The channels with every sending one against its in-memory twin, so nothing could
    leave even if a message were handed to one."""
    return {
        name: type(channel).in_memory("accept") if channel.mode == "send" else channel
        for name, channel in channels.items()
    }


async def run_engine(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    channels: Mapping[str, Channel],
    assume: Assumptions,
    until: datetime,
    *,
    renderer: Renderer | None = None,
) -> None:
    """Run the engine over the database of `sessions` from the clock's time to `until`.

    `channels` must already be in-memory twins (`in_memory_channels`). At each instant the
    dispatcher runs until idle, the queued messages are marked sent and the assumed
    contacts answer, until nothing moves; then the clock jumps to the next due time. The
    same tables, clock and assumptions always give the same touches."""
    catalog = CampaignCatalog()
    dispatcher = Dispatcher(
        sessions, clock, channels, catalog, batch_size=_BATCH, renderer=renderer
    )
    engagement = Engagement(assume, sessions, clock, channels, catalog)
    senders = [name for name, channel in channels.items() if channel.mode == "send"]
    while True:
        now = clock.now()
        while True:
            moved = await dispatcher.run_until_idle(now)
            async with sessions.begin() as session:
                sent = await SimulationStore(session).deliver_queued(now, senders)
            if not (await engagement.respond(sent) or moved or sent):
                break
        async with sessions() as session:
            due = await SimulationStore(session).next_due()
        if due is None or due >= until:
            return
        clock.set(max(due, now + _TICK))


@dataclass
class RunResult:
    """What one run made: every touch since its start, and where the watched campaign's
    enrollments ended."""

    touches: list[Row]
    enrollments: list[Row]


Prepare = Callable[[AsyncSession, FakeClock], Awaitable[None]]


async def run_copy(
    scratch: Scratch,
    directory: Path,
    snapshot: Snapshot,
    channels: Mapping[str, Channel],
    assume: Assumptions,
    until: datetime,
    *,
    leave_out_campaign: int | None = None,
    prepare: Prepare | None = None,
    watch: int | None = None,
) -> RunResult:
    """Copy the snapshot into a scratch database, let `prepare` set it up (enroll the
    audience), run the engine there until `until`, and read what it made."""
    clock = FakeClock(snapshot.taken_at)
    twins = in_memory_channels(channels)
    async with scratch_database(scratch, directory) as sessions:
        async with sessions.begin() as session:
            await write_snapshot(session, snapshot, leave_out_campaign=leave_out_campaign)
            if prepare is not None:
                await prepare(session, clock)
        try:
            await run_engine(sessions, clock, twins, assume, until)
        finally:
            for name, twin in twins.items():
                if twin is not channels[name]:
                    await twin.close()
        async with sessions() as session:
            store = SimulationStore(session)
            touches = await store.decisions_since(snapshot.taken_at)
            enrollments = [] if watch is None else await store.enrollments_of(watch)
    return RunResult(touches, enrollments)


def off_loop(coroutine: Coroutine[Any, Any, T]) -> Awaitable[T]:
    """Run `coroutine` on an event loop of its own in a worker thread: a simulation's
    seconds of engine work (its own SQLite database and engine) leave the application's
    loop free for other requests."""
    return asyncio.to_thread(asyncio.run, coroutine)


async def release(session: AsyncSession) -> None:
    """End the request's unit of work early: a simulation only reads the live tables (the
    caller's key may have noted its last use), and holds nothing live while it runs."""
    await session.commit()
