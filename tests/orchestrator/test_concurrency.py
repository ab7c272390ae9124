"""Several dispatchers over one PostgreSQL: every step exactly once, nothing lost in a crash."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import text

from app.database import create_engine, create_sessionmaker
from orchestrator.services.contacts import ContactService
from tests.engine import dispatcher, enroll, enrollments, launch, touches

pytestmark = pytest.mark.postgres

THREE_STEPS = {
    "name": "Call, wait, write",
    "steps": [
        {"id": "call", "type": "send", "channel": "phone", "template": {"script": "Hi"}},
        {"id": "wait", "type": "wait", "duration": "P1D"},
        {"id": "letter", "type": "send", "channel": "dm", "template": {"letter": "Dear"}},
    ],
}
ADDRESS = {"postal_code": "150-0001", "country": "JP", "locality": "渋谷区", "line1": "1-2-3"}


@pytest.fixture
def database_url(postgres_url):
    from tests.databases import empty_postgres

    empty_postgres(postgres_url)
    return postgres_url


async def many_contacts(sessions, clock, count: int) -> list[int]:
    rows = [
        {"external_id": f"p-{n}", "phone": f"0901{n:07d}", "address": ADDRESS} for n in range(count)
    ]
    async with sessions.begin() as session:
        service = ContactService(session, clock, default_timezone="Asia/Tokyo")
        result = await service.bulk_upsert(rows)
        assert result.created == count
    async with sessions() as session:
        contacts = await ContactService(session, clock, default_timezone="UTC").page(
            external_id=None, after=None, limit=count
        )
    return [c.id for c in contacts if c.id is not None]


async def run_together(url: str, clock, count: int) -> list[int]:
    """`count` dispatchers, each with its own connections, until nothing is due."""
    engines = [create_engine(url, pool_size=2) for _ in range(count)]
    try:
        engines_work = [
            dispatcher(create_sessionmaker(engine), clock, batch_size=50).run_until_idle()
            for engine in engines
        ]
        return list(await asyncio.gather(*engines_work))
    finally:
        for engine in engines:
            await engine.dispose()


async def backend_pid(session) -> int:
    """The PostgreSQL backend serving `session`'s connection."""
    pid: int = (await session.exec(text("SELECT pg_backend_pid()"))).one()[0]
    return pid


async def blocked(sessions, pid: int, task: asyncio.Task[None]) -> set[int]:
    """Wait until backend `pid`, working for `task`, waits for a lock; the backends holding it.

    Fails if `task` ends first: then the race the test is about never happened.
    """
    deadline = time.monotonic() + 30
    while True:
        async with sessions() as session:
            query = text("SELECT pg_blocking_pids(:pid)").bindparams(pid=pid)
            blockers = set((await session.exec(query)).one()[0])
        if blockers:
            return blockers
        assert not task.done(), "it never waited for the lock: the race was not reached"
        assert time.monotonic() < deadline, "it never waited for the lock"
        await asyncio.sleep(0.01)


def assert_once_per_enrollment(found, step_id: str, expected: int) -> None:
    per_enrollment = Counter(t.enrollment_id for t in found if t.step_id == step_id)
    assert len(per_enrollment) == expected
    assert set(per_enrollment.values()) == {1}


async def test_four_dispatchers_do_every_step_exactly_once(sessions, clock, database_url):
    contacts = await many_contacts(sessions, clock, 2_000)
    campaign_id = await launch(sessions, clock, THREE_STEPS)
    assert (await enroll(sessions, clock, campaign_id, contacts)).enrolled == 2_000

    shares = await run_together(database_url, clock, 4)
    assert sum(shares) == 2_000
    assert sum(1 for share in shares if share > 0) >= 2, f"the work was not shared: {shares}"
    assert_once_per_enrollment(await touches(sessions), "call", 2_000)

    clock.advance(timedelta(days=1))
    await run_together(database_url, clock, 4)
    found = await touches(sessions)
    assert_once_per_enrollment(found, "call", 2_000)
    assert_once_per_enrollment(found, "letter", 2_000)
    states = Counter(e.state for e in await enrollments(sessions))
    assert states == {"completed": 2_000}


async def test_a_dispatcher_killed_mid_batch_loses_nothing(sessions, clock, database_url, tmp_path):
    contacts = await many_contacts(sessions, clock, 300)
    campaign_id = await launch(sessions, clock, THREE_STEPS)
    await enroll(sessions, clock, campaign_id, contacts)

    marker = tmp_path / "inside"
    doomed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.orchestrator.crashing_dispatcher",
        database_url, clock.now().isoformat(), str(marker),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert doomed.returncode is None, "the dispatcher ended before its batch"
            assert time.monotonic() < deadline, "the dispatcher never reached its batch"
            await asyncio.sleep(0.05)
        # The doomed process holds row locks on a batch of contacts right now.
        shares = await run_together(database_url, clock, 2)
        assert sum(shares) < 300, "the doomed process's batch was not locked"
    finally:
        doomed.send_signal(signal.SIGKILL)
        await asyncio.wait_for(doomed.wait(), timeout=30)

    await run_together(database_url, clock, 2)  # what the dead process had locked
    assert_once_per_enrollment(await touches(sessions), "call", 300)
    assert Counter(e.step_id for e in await enrollments(sessions)) == {"wait": 300}


async def test_a_pause_during_a_pass_is_not_undone_by_it(sessions, clock, database_url, tmp_path):
    from orchestrator.services.campaigns import CampaignService

    contacts = await many_contacts(sessions, clock, 20)
    campaign_id = await launch(sessions, clock, THREE_STEPS)
    await enroll(sessions, clock, campaign_id, contacts)
    marker, release = tmp_path / "inside", tmp_path / "release"
    busy = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.orchestrator.crashing_dispatcher",
        database_url, clock.now().isoformat(), str(marker), str(release),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert time.monotonic() < deadline, "the dispatcher never reached its batch"
            await asyncio.sleep(0.05)

        pid: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def pause() -> None:
            async with sessions.begin() as session:
                pid.set_result(await backend_pid(session))
                await CampaignService(session, clock).transition(campaign_id, "pause")

        pausing = asyncio.create_task(pause())
        await blocked(sessions, await asyncio.wait_for(pid, 30), pausing)  # by the batch
        release.write_text("go on")
        await asyncio.wait_for(pausing, timeout=30)
        assert await asyncio.wait_for(busy.wait(), timeout=30) == 0
    finally:
        if busy.returncode is None:
            busy.kill()
    assert Counter(e.state for e in await enrollments(sessions)) == {"paused": 20}


async def test_pausing_a_throttled_campaign_mid_pass_does_not_deadlock(sessions, clock):
    from orchestrator.services.campaigns import CampaignService
    from orchestrator.store.campaigns import CampaignStore
    from orchestrator.store.enrollments import EnrollmentStore

    throttled = {**THREE_STEPS, "throttle": {"phone": {"max": 10, "per": "PT1H"}}}
    contacts = await many_contacts(sessions, clock, 5)
    campaign_id = await launch(sessions, clock, throttled)
    await enroll(sessions, clock, campaign_id, contacts)

    pid: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def pause() -> None:
        async with sessions.begin() as session:
            pid.set_result(await backend_pid(session))
            await CampaignService(session, clock).transition(campaign_id, "pause")

    async with sessions.begin() as session:  # a dispatcher's pass, step by step
        assert len(await EnrollmentStore(session).claim_due(clock.now(), 50)) == 5
        pausing = asyncio.create_task(pause())
        # The pause holds the campaign and waits for the enrollments this pass holds.
        blockers = await blocked(sessions, await asyncio.wait_for(pid, 10), pausing)
        assert blockers == {await backend_pid(session)}
        await asyncio.wait_for(CampaignStore(session).lock_throttles({campaign_id}), 5)
    await asyncio.wait_for(pausing, timeout=10)
    assert Counter(e.state for e in await enrollments(sessions)) == {"paused": 5}
