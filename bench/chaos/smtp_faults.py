"""SMTP faults from a scripted relay: each recipient's first attempts meet one kind of fault
(4xx and 5xx replies at RCPT TO and after DATA, a connection dropped after DATA, a relay
slower than the client's 30 s timeout), sent by `kizuna dispatch`. A short run leaves out
the cases that wait out the timeout.

Checked: each touch's final state (transient faults retried, permanent ones failed, a dead
mailbox suppressed) and that no message arrived twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from dataclasses import dataclass

from bench.chaos.context import Context
from bench.chaos.facts import fetch
from bench.chaos.processes import kizuna
from bench.chaos.report import Check
from bench.chaos.sink import Fault, scripted_sink
from bench.email import START, load
from orchestrator.clock import FakeClock

__all__ = ["run"]

NAME = "SMTP faults"
#: The SMTP client's timeout (`SmtpConfig.timeout`), which a slow relay outlasts.
CLIENT_TIMEOUT = 30.0
#: Faults enough to outlast every attempt of the run: the touch stays queued for a retry.
ALWAYS = 20


@dataclass(frozen=True)
class Case:
    """A fault, and what must become of the touch that meets it."""

    label: str
    faults: list[Fault]
    #: the right ends: the touch's status and how many copies the relay accepted
    outcomes: Collection[tuple[str, int]]
    suppressed: bool = False

    @property
    def statuses(self) -> set[str]:
        return {status for status, _ in self.outcomes}

    @property
    def slow(self) -> bool:
        """Whether the case waits out the client's timeout (left out of a short run)."""
        return any(fault.delay >= CLIENT_TIMEOUT for fault in self.faults)


#: Where the relay may or may not have taken the message, the touch ends sent (it was
#: sent again and accepted once) or, not sent again, failed or in doubt; never received twice.
_ONCE_OR_NOT_AGAIN = {("sent", 1), ("failed", 0), ("in_doubt", 0)}

CASES = [
    Case("none (control)", [], {("sent", 1)}),
    Case("421 at RCPT, once", [Fault("rcpt", "421 4.7.0 too busy, closing")], {("sent", 1)}),
    Case("451 at RCPT, always", [Fault("rcpt", "451 4.3.0 try again later")] * ALWAYS,
         {("queued", 0)}),
    Case("452 at RCPT, once", [Fault("rcpt", "452 4.2.2 mailbox full")], {("sent", 1)}),
    Case("550 5.1.1 at RCPT", [Fault("rcpt", "550 5.1.1 no such user")], {("failed", 0)},
         suppressed=True),
    Case("554 5.7.1 after DATA", [Fault("data", "554 5.7.1 message refused")],
         {("failed", 0)}),
    Case("drop after DATA, once", [Fault("data")], _ONCE_OR_NOT_AGAIN),
    Case(f"{CLIENT_TIMEOUT + 5:.0f} s at RCPT (> timeout), once",
         [Fault("rcpt", delay=CLIENT_TIMEOUT + 5)], {("sent", 1)}),
    # The relay took the message but answers after the client gave up: the answer is lost,
    # so the touch is in doubt and never sent again.
    Case(f"250 after DATA {CLIENT_TIMEOUT + 5:.0f} s late (> timeout), once",
         [Fault("data", "250 2.0.0 queued", delay=CLIENT_TIMEOUT + 5)], {("in_doubt", 1)}),
]  # fmt: skip


def _recipient(number: int) -> str:
    return f"person{number}@example.jp"  # as `bench.email.load` makes them


async def run(context: Context) -> list[Check]:
    cases = [case for case in CASES if not (context.short and case.slow)]
    script = {_recipient(n): case.faults for n, case in enumerate(cases)}
    with scripted_sink(script) as sink:
        async with context.cluster.database() as url:
            await load(url, len(cases), FakeClock(START))
            env = {"KIZUNA_DATABASE_URL": url, "KIZUNA_SMTP_PORT": str(sink.port)}
            with kizuna("dispatch", env):
                rows = await _settled(url, cases, time.monotonic() + CLIENT_TIMEOUT * 3)
            suppressed = {row[0] for row in await fetch(url, "SELECT source FROM suppression")}
    arrived = sink.message_ids()
    to = {str(message["Message-ID"]): str(message["To"]) for message in sink.messages}
    checks = []
    for number, case in enumerate(cases):
        status, touch_id, error = rows[_recipient(number)]
        copies = sum(n for mid, n in arrived.items() if to[mid] == _recipient(number))
        is_suppressed = f"touch {touch_id}" in suppressed
        attempts = sink.attempts[_recipient(number)]
        figure = f"{status}, {copies} received, {attempts} attempt{'s' if attempts != 1 else ''}"
        if error:
            figure += f", {error[:40]}"
        if is_suppressed:
            figure += ", suppressed"
        ok = (status, copies) in case.outcomes and is_suppressed == case.suppressed
        checks.append(Check(NAME, case.label, figure, ok))
    duplicates = sum(n - 1 for n in arrived.values())
    checks.append(Check(NAME, "Message-IDs received twice", str(duplicates), duplicates == 0))
    return checks


async def _settled(
    url: str, cases: list[Case], deadline: float
) -> dict[str, tuple[str, int, str | None]]:
    """Each recipient's touch once every touch is in the state its case expects, or at the
    deadline: (status, id, error)."""
    while True:
        rows = await fetch(url, "SELECT c.email, t.status, t.id, t.error "
                                "FROM touch t JOIN contact c ON c.id = t.contact_id")  # fmt: skip
        found = {row[0]: (row[1], row[2], row[3]) for row in rows}
        expected = {_recipient(n): case.statuses for n, case in enumerate(cases)}
        if found.keys() == expected.keys() and all(
            state[0] in expected[email] for email, state in found.items()
        ):
            return found
        if time.monotonic() > deadline:
            return {email: found.get(email, ("missing", 0, None)) for email in expected}
        await asyncio.sleep(0.2)
