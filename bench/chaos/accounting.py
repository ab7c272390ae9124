"""The mail ledger of a campaign after faults: finish what is left, then count duplicates
and losses against what the SMTP sink received."""

from __future__ import annotations

import asyncio
import time

from bench.chaos.facts import fetch, statuses
from bench.chaos.processes import Kizuna
from bench.chaos.report import Check
from bench.chaos.sink import ScriptedSink

__all__ = ["ledger_checks", "settle"]


async def settle(url: str, env: dict[str, str], count: int, within: float = 600) -> None:
    """A last `kizuna dispatch` until `count` touches are made and none is open, then
    stopped with SIGTERM."""
    dispatcher = Kizuna("dispatch", env)
    dispatcher.start()
    try:
        deadline = time.monotonic() + within
        while True:
            dispatcher.check_alive()
            found = await statuses(url)
            if found.total() >= count and not found.keys() & {"queued", "claimed", "sending"}:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"touches not settled after {within:.0f} s: {dict(found)}")
            await asyncio.sleep(0.2)
    finally:
        dispatcher.stop()


async def ledger_checks(scenario: str, url: str, count: int, sink: ScriptedSink) -> list[Check]:
    """No Message-ID received twice; every touch `sent` (and received) or `in_doubt`."""
    found = await statuses(url)
    sent = await fetch(url, "SELECT message_id FROM touch WHERE status = 'sent'")
    arrived = sink.message_ids()
    duplicates = sum(n - 1 for n in arrived.values())
    unreceived = sum(1 for (message_id,) in sent if message_id not in arrived)
    lost = count - found["sent"] - found["in_doubt"] + unreceived
    return [
        Check(scenario, "Message-IDs received twice",
              f"{duplicates} of {arrived.total():,} received", duplicates == 0),
        Check(scenario, "touches lost (not sent nor in doubt)",
              f"{lost} of {count:,} ({found['sent']:,} sent, {found['in_doubt']} in doubt)",
              lost == 0),
    ]  # fmt: skip
