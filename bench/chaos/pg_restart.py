"""PostgreSQL restart mid-run: the private cluster is stopped under `kizuna serve` while it
sends an email campaign, kept down a few seconds, and started again.

Checked: `/readyz` answers 503 while the database is down and 200 soon after it is back;
a write meanwhile gets a 503 problem, and is stored once the database is back; mail flows
again without restarting Kizuna; afterwards (the leases run out, a dispatcher
finishes the rest) no Message-ID arrived twice and no touch is lost.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from bench.chaos.accounting import ledger_checks, settle
from bench.chaos.context import Context
from bench.chaos.facts import leases_run_out, statuses
from bench.chaos.probes import Probe, probing
from bench.chaos.processes import Kizuna, kizuna
from bench.chaos.report import Check
from bench.chaos.sink import ScriptedSink, scripted_sink
from bench.email import START, load
from orchestrator.clock import FakeClock

__all__ = ["run"]

NAME = "PostgreSQL restart"


async def run(context: Context) -> list[Check]:
    count, outage = (400, 2.0) if context.short else (3000, 5.0)
    with scripted_sink() as sink:
        async with context.cluster.database() as url:
            await load(url, count, FakeClock(START))
            env = {
                "KIZUNA_DATABASE_URL": url,
                "KIZUNA_SMTP_PORT": str(sink.port),
                "KIZUNA_DISPATCH_INTERVAL": "0.2",
            }
            with kizuna("serve", env) as server:
                async with probing(f"{server.base_url}/readyz") as ready:
                    await _received(sink, count // 4, server)
                    down = time.monotonic()
                    await asyncio.to_thread(context.cluster.pg_ctl, "stop", "-m", "fast")
                    stopped = time.monotonic()
                    write = await _write(server)
                    await asyncio.sleep(max(0.0, outage - (time.monotonic() - stopped)))
                    await asyncio.to_thread(context.cluster.pg_ctl, "start")
                    up = time.monotonic()
                    received_at_restart = len(sink.messages)
                    back = await _ready_again(ready, up)
                    resumed = await _resumed(url, count, sink, received_at_restart)
                    after = await _write(server)
            during = ready.between(stopped, up - 0.5)
            refused = sum(1 for answer in during if answer.status == 503)
            await leases_run_out(url)
            await settle(url, env, count)
            checks = await ledger_checks(NAME, url, count, sink)
    return [
        Check(NAME, "/readyz 503 while the database is down",
              f"{refused} of {len(during)} polls in {up - stopped:.1f} s "
              f"(stop took {stopped - down:.1f} s)", len(during) > 0 and refused == len(during)),
        Check(NAME, "/readyz 200 again after the restart",
              "never" if back is None else f"{back:.1f} s after", back is not None and back < 15),
        Check(NAME, "a write while down: 503 problem; after: stored",
              f"{write} while down; {after} after", write == 503 and after == 201),
        Check(NAME, "mail flows again, Kizuna not restarted",
              f"{resumed:,} mails after the restart", resumed > 0),
        *checks,
    ]  # fmt: skip


async def _received(sink: ScriptedSink, count: int, server: Kizuna, within: float = 120) -> None:
    """Wait until the sink has `count` messages."""
    deadline = time.monotonic() + within
    while len(sink.messages) < count:
        server.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(sink.messages)} mails in {within:.0f} s, not {count}")
        await asyncio.sleep(0.02)


async def _ready_again(ready: Probe, since: float, within: float = 30) -> float | None:
    """Seconds from `since` to the first 200 of `/readyz`; None if none came."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for answer in ready.between(since, deadline):
            if answer.status == 200:
                return answer.at - since
        await asyncio.sleep(0.05)
    return None


async def _write(server: Kizuna) -> int:
    """The status of one contact upsert through the API."""
    contact = {"external_id": f"outage-{time.time_ns()}", "email": "outage@example.jp"}
    async with httpx.AsyncClient(headers=server.headers, timeout=30) as client:
        try:
            answer = await client.post(f"{server.base_url}/v1/contacts", json=contact)
        except httpx.TransportError:
            return 0
    if answer.status_code == 503 and answer.headers["content-type"] != "application/problem+json":
        return -503  # a 503 that is no problem document
    return answer.status_code


async def _resumed(
    url: str, count: int, sink: ScriptedSink, before: int, within: float = 60
) -> int:
    """Mail received after the restart once the queue is empty (claims the outage cut
    short wait for their lease), or after `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = await statuses(url)
        if found.total() >= count and not found["queued"]:
            break
        await asyncio.sleep(0.2)
    return len(sink.messages) - before
