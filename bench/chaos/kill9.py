"""Kill -9 mid-send: `kizuna dispatch` is killed at random points of an email campaign and
started again, against an SMTP sink that records every Message-ID.

After each kill no sender is alive, so the engine's lease reaper is run as if the leases
had run out (31 minutes later): claims nobody started go back to the queue, the sends that
were in an SMTP transaction become `in_doubt`. Checked: no Message-ID arrived twice, every
touch ends `sent` (and arrived) or `in_doubt`, and no kill left more in doubt than the SMTP
pool size.
"""

from __future__ import annotations

import asyncio
import time

from bench.chaos.accounting import ledger_checks, settle
from bench.chaos.context import Context
from bench.chaos.facts import leases_run_out
from bench.chaos.processes import Kizuna
from bench.chaos.report import Check
from bench.chaos.sink import ScriptedSink, scripted_sink
from bench.email import START, load
from orchestrator.clock import FakeClock

__all__ = ["run"]

NAME = "kill -9 mid-send"
POOL = 4


async def run(context: Context) -> list[Check]:
    count, kills, stretch = (600, 3, 0.4) if context.short else (5000, 10, 1.5)
    with scripted_sink() as sink:
        async with context.cluster.database() as url:
            await load(url, count, FakeClock(START))
            env = {
                "KIZUNA_DATABASE_URL": url,
                "KIZUNA_SMTP_PORT": str(sink.port),
                "KIZUNA_SMTP_POOL_SIZE": str(POOL),
                "KIZUNA_DISPATCH_INTERVAL": "0.2",
            }
            in_doubt: list[int] = []
            for _ in range(kills):
                dispatcher = Kizuna("dispatch", env)
                dispatcher.start()
                try:
                    if not await _sending(sink, dispatcher):
                        break  # everything went out before this kill
                    # Somewhere in the next stretch of work: a random point of claim,
                    # policy, render, SMTP or record.
                    await asyncio.sleep(context.random.uniform(0.05, stretch))
                finally:
                    dispatcher.kill()
                in_doubt.append((await leases_run_out(url))[1])
            await settle(url, env, count)
            checks = await ledger_checks(NAME, url, count, sink)
    worst = max(in_doubt, default=0)
    return [
        *checks,
        Check(NAME, f"kills; in doubt per kill <= SMTP pool ({POOL})",
              f"{len(in_doubt)} kills, in doubt {'/'.join(map(str, in_doubt))}",
              len(in_doubt) == kills and worst <= POOL),
    ]  # fmt: skip


async def _sending(sink: ScriptedSink, dispatcher: Kizuna, within: float = 60) -> bool:
    """Wait until this process delivers a message; False if none is left for it to send."""
    before = len(sink.messages)
    deadline = time.monotonic() + within
    while len(sink.messages) == before:
        if time.monotonic() > deadline:
            return False
        dispatcher.check_alive()
        await asyncio.sleep(0.02)
    return True
