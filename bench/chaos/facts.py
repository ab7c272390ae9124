"""What the database says after a scenario, read with plain SQL beside the engine."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import asyncpg

from app.database import create_engine, create_sessionmaker
from bench.harness import asyncpg_dsn
from orchestrator.clock import FakeClock, SystemClock
from orchestrator.housekeeping import reap_leases

__all__ = ["fetch", "leases_run_out", "statuses"]


async def fetch(url: str, query: str, *arguments: Any) -> list[asyncpg.Record]:
    """The rows of one query."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return list(await connection.fetch(query, *arguments))
    finally:
        await connection.close()


async def statuses(url: str, channel: str = "email") -> Counter[str]:
    """How many touches of `channel` are in each status."""
    rows = await fetch(url, "SELECT status, count(*) FROM touch WHERE channel = $1 GROUP BY 1",
                       channel)  # fmt: skip
    return Counter({row[0]: row[1] for row in rows})


async def leases_run_out(url: str) -> tuple[int, int]:
    """The engine's own lease reaper, run as if 31 minutes had passed with no sender alive:
    claims nobody started go back to the queue, sends cut short become `in_doubt`.
    (released, in doubt)."""
    engine = create_engine(url, pool_size=1)
    try:
        later = FakeClock(SystemClock().now() + timedelta(minutes=31))
        return await reap_leases(create_sessionmaker(engine), later)
    finally:
        await engine.dispose()
