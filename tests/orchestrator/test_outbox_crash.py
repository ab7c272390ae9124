"""A sender killed mid-send on PostgreSQL: only the messages in an SMTP transaction are left
in doubt (no more than the pool), the rest of its batch is sent later, nothing twice."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from orchestrator.catalog import CampaignCatalog
from orchestrator.housekeeping import reap_leases
from orchestrator.outbox import Outbox
from tests.engine import touches
from tests.orchestrator.test_outbox import dispatch_welcome
from tests.smtp_sink import SmtpSink, free_port

pytestmark = pytest.mark.postgres

POOL = 2


@dataclass
class StallingSink(SmtpSink):
    """Keeps each message from DATA on and, while `holding`, leaves its transaction open
    until `released`: a message counted in `stalled` is in a transaction that never ended."""

    holding: bool = False
    released: threading.Event = field(default_factory=threading.Event)
    stalled: int = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if self.holding:
            self.stalled += 1
            await asyncio.to_thread(self.released.wait)
        return reply


@contextmanager
def stalling_sink() -> Iterator[StallingSink]:
    """A stalling sink on a free port of 127.0.0.1 for the duration."""
    sink = StallingSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        sink.released.set()
        controller.stop()


async def test_a_sender_killed_mid_send_leaves_only_its_transactions_in_doubt(
    sessions, clock, database_url
):
    from channels.email import EmailChannel, SmtpConfig
    from tests.engine import CHANNELS

    with stalling_sink() as sink:
        email = EmailChannel(SmtpConfig(port=sink.port, pool_size=POOL))
        channels = {**CHANNELS, "email": email}
        await dispatch_welcome(sessions, clock, channels, count=30)
        sink.holding = True
        doomed = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.orchestrator.crashing_sender",
            database_url, clock.now().isoformat(), str(sink.port), str(POOL),
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while sink.stalled < POOL:
                assert doomed.returncode is None, "the sender ended before its transactions"
                assert time.monotonic() < deadline, "the sender never reached the relay"
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # time for a third transaction, were one to start
        finally:
            doomed.kill()
            await asyncio.wait_for(doomed.wait(), timeout=30)
        assert sink.stalled == POOL
        statuses = Counter(t.status for t in await touches(sessions, channel="email"))
        assert statuses == {"sending": POOL, "claimed": 20 - POOL, "queued": 10}
        sink.holding = False
        sink.released.set()

        clock.advance(timedelta(minutes=6))  # the batch's claim ran out, the sends did not
        assert await reap_leases(sessions, clock) == (20 - POOL, 0)
        outbox = Outbox(sessions, clock, channels, CampaignCatalog(), concurrency=POOL)
        while await outbox.run_once():
            pass
        clock.advance(timedelta(minutes=30))
        assert await reap_leases(sessions, clock) == (0, POOL)

        mails = await touches(sessions, channel="email")
        assert Counter(t.status for t in mails) == {"sent": 30 - POOL, "in_doubt": POOL}
        arrived = [message["Message-ID"] for message in sink.messages]
        assert len(arrived) == len(set(arrived)) == 30
        assert {t.message_id for t in mails if t.status == "sent"} == set(arrived[POOL:])
        in_doubt = {t.idempotency_key.replace(":", ".") for t in mails if t.status == "in_doubt"}
        assert {message_id[1:].split("@")[0] for message_id in arrived[:POOL]} == in_doubt
