"""`kizuna touches in-doubt`: the messages interrupted mid-send, for an operator to settle."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from app.database import create_engine, create_sessionmaker
from orchestrator.clock import FakeClock
from orchestrator.housekeeping import reap_leases
from orchestrator.store.leases import LeaseStore
from tests.app.test_cli import environment, kizuna
from tests.conftest import START
from tests.engine import CHANNELS
from tests.orchestrator.test_outbox import dispatch_welcome

__all__ = ["environment"]


async def interrupt_sends(url: str, count: int, interrupted: int) -> list[tuple[int, int, int]]:
    """`count` welcome mails queued, the first `interrupted` of them cut off mid-send;
    (touch, contact, campaign) of those in doubt."""
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    clock = FakeClock(START)
    try:
        await dispatch_welcome(sessions, clock, CHANNELS, count=count)
        async with sessions.begin() as session:
            store = LeaseStore(session)
            claimed = await store.claim_outbox(["email"], interrupted, clock.now(), clock.now())
            await store.settle_and_start([], claimed, clock.now(), clock.now())
        clock.advance(timedelta(seconds=1))
        assert await reap_leases(sessions, clock) == (0, interrupted)
        return [(t.id or 0, t.contact_id, t.campaign_id or 0) for t in claimed]
    finally:
        await engine.dispose()


def test_touches_in_doubt_lists_each_with_its_contact_campaign_step_and_since(environment):
    kizuna(environment, "migrate")
    empty = kizuna(environment, "touches", "in-doubt")
    assert (empty.returncode, empty.stdout.split()) == (
        0,
        ["id", "contact", "campaign", "step", "channel", "since"],
    )
    expected = asyncio.run(interrupt_sends(environment["KIZUNA_DATABASE_URL"], 3, 2))

    listed = kizuna(environment, "touches", "in-doubt")

    assert listed.returncode == 0, listed.stderr
    header, *rows = [line.split() for line in listed.stdout.splitlines()]
    assert header == ["id", "contact", "campaign", "step", "channel", "since"]
    since = (START + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows == [
        [str(touch), str(contact), str(campaign), "welcome", "email", since]
        for touch, contact, campaign in expected
    ]
