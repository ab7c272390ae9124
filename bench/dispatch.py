"""The dispatcher on PostgreSQL: 100,000 enrollments through a three-step campaign.

The campaign calls (a phone task), waits a day, and calls again. The engine walks every
enrollment through each pass (claim, walk, render, admit, write); the limit it is measured
against is the bare claim-and-update loop: the same claim, the same touch inserts and
enrollment updates, with no engine logic between them. Both run here, in this process,
on the same rows.

    python -m bench.dispatch [--enrollments 100000] [--batch 500]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.database import create_engine, create_sessionmaker
from bench.harness import activate, asyncpg_dsn, copy_contacts, scratch_postgres
from channels.dm import DmChannel
from channels.email import EmailChannel
from channels.phone import PhoneChannel
from channels.sns import SnsChannel
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import FakeClock
from orchestrator.dispatcher import Dispatcher
from orchestrator.services.enrollments import EnrollmentRequest, EnrollmentService
from orchestrator.store.enrollments import EnrollmentPosition, EnrollmentStore
from orchestrator.store.touches import NewTouch, TouchStore

CAMPAIGN = {
    "name": "Call twice",
    "steps": [
        {"id": "call", "type": "send", "channel": "phone",
         "template": {"script": "{{ contact.attributes.name }}様、お電話です"}},
        {"id": "wait", "type": "wait", "duration": "P1D"},
        {"id": "call_again", "type": "send", "channel": "phone", "template": {"script": "再度"}},
    ],
}  # fmt: skip
CHANNELS = {
    "email": EmailChannel(),
    "phone": PhoneChannel(),
    "dm": DmChannel(),
    "sns": SnsChannel(),
}
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def load(url: str, count: int, clock: FakeClock) -> int:
    """Contacts (COPY, not measured), the campaign, and the enrollments (by filter)."""
    await copy_contacts(
        url,
        ("external_id", "phone", "timezone", "attributes", "social", "consent",
         "created_at", "updated_at"),
        [
            (f"b-{n}", f"+8190{n:08d}", "Asia/Tokyo", f'{{"name": "顧客{n}"}}', "{}", "{}",
             START, START)
            for n in range(count)
        ],
    )  # fmt: skip
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions.begin() as session:
            campaign_id = await activate(session, clock, CAMPAIGN)
        started = time.perf_counter()
        async with sessions.begin() as session:
            audience = EnrollmentRequest.model_validate(
                {"filter": {"attribute": "name", "op": "exists"}}
            )
            result = await EnrollmentService(session, clock, CampaignCatalog()).enroll(
                campaign_id, audience
            )
        seconds = time.perf_counter() - started
        assert result.enrolled == count, result
        label = "enroll by filter"
        print(f"  {label:<36} {count / seconds:>9,.0f} contacts/s ({seconds:.2f} s)")
        return campaign_id
    finally:
        await engine.dispose()


async def engine_pass(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, batch: int
) -> tuple[int, float, list[float]]:
    dispatcher = Dispatcher(sessions, clock, CHANNELS, CampaignCatalog(), batch_size=batch)
    advanced, memory = 0, []
    started = time.perf_counter()
    while processed := await dispatcher.run_once():
        advanced += processed
        if advanced % (batch * 40) == 0:
            memory.append(rss_mib())
    return advanced, time.perf_counter() - started, memory


async def bare_pass(
    sessions: async_sessionmaker[AsyncSession], now: datetime, batch: int
) -> tuple[int, float]:
    """The same SQL as a pass, without the engine: claim, insert a touch, move on."""
    advanced = 0
    started = time.perf_counter()
    while True:
        async with sessions.begin() as session:
            claimed = await EnrollmentStore(session).claim_due(now, batch)
            if not claimed:
                break
            await TouchStore(session).add_many([_touch(e, now) for e in claimed])
            await EnrollmentStore(session).save_positions([_position(e, now) for e in claimed])
        advanced += len(claimed)
    return advanced, time.perf_counter() - started


def _touch(enrollment: Any, now: datetime) -> NewTouch:
    return {
        "contact_id": enrollment.contact_id, "enrollment_id": enrollment.id,
        "campaign_id": enrollment.campaign_id, "campaign_version": enrollment.campaign_version,
        "step_id": enrollment.step_id, "channel": "phone", "category": "marketing",
        "status": "queued", "weight": 3.0, "idempotency_key": f"bare:{enrollment.id}",
        "rule": None, "also_held": None, "reason": None, "policy_version": None,
        "defer_until": None,
        "content": {"script": "x"}, "error": None, "attempts": 0,
        "created_at": now, "updated_at": now,
    }  # fmt: skip


def _position(enrollment: Any, now: datetime) -> EnrollmentPosition:
    return {
        "id": enrollment.id, "state": "active", "step_id": "wait", "step_entered_at": now,
        "step_seq": enrollment.step_seq + 1, "attempt": 0, "awaiting_event": False,
        "next_action_at": now + timedelta(days=1), "exit_reason": None, "finished_at": None,
        "updated_at": now,
    }  # fmt: skip


async def reset(url: str) -> None:
    """Every enrollment back at its first step, due now; no touches."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute("DELETE FROM touch")
        await connection.execute(
            "UPDATE enrollment SET state = 'active', step_id = 'call', step_seq = 1,"
            " attempt = 0, next_action_at = $1, finished_at = NULL", START
        )  # fmt: skip
        await connection.execute("VACUUM ANALYZE enrollment")
    finally:
        await connection.close()


async def measure(args: argparse.Namespace) -> None:
    n = args.enrollments
    print(f"dispatch: {n:,} enrollments, batches of {args.batch}, PostgreSQL")
    async with scratch_postgres() as url:
        clock = FakeClock(START)
        await load(url, n, clock)
        engine = create_engine(url)
        sessions = create_sessionmaker(engine)
        try:
            await reset(url)
            bare, bare_s = await bare_pass(sessions, START, args.batch)
            await reset(url)
            first, first_s, memory = await engine_pass(sessions, clock, args.batch)
            clock.advance(timedelta(days=1))
            second, second_s, more_memory = await engine_pass(sessions, clock, args.batch)
        finally:
            await engine.dispose()
    assert bare == first == second == n, (bare, first, second)
    engine_rate = (first + second) / (first_s + second_s)
    lines = [
        ("bare claim-and-update loop", bare, bare_s),
        ("engine, pass 1 (call, enter wait)", first, first_s),
        ("engine, pass 2 (leave wait, call)", second, second_s),
    ]
    for label, count, seconds in lines:
        print(f"  {label:<36} {count / seconds:>9,.0f} enrollments/s ({seconds:.2f} s)")
    print(f"  {'engine steps':<36} {4 * n / (first_s + second_s):>9,.0f} steps/s")
    print(f"  ratio engine/bare: {engine_rate / (bare / bare_s):.2f}")
    samples = ", ".join(f"{m:.0f}" for m in memory + more_memory)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  memory (MiB) every {args.batch * 40:,} enrollments: {samples}; peak {peak:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--enrollments", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
