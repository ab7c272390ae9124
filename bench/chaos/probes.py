"""A URL polled in the background: every answer's time, status and latency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

__all__ = ["Answer", "Probe", "percentile", "probing"]


@dataclass(frozen=True)
class Answer:
    """One poll: when it was sent (monotonic), the status (0: no answer), the seconds taken."""

    at: float
    status: int
    seconds: float


@dataclass
class Probe:
    answers: list[Answer] = field(default_factory=list)

    def between(self, start: float, end: float) -> list[Answer]:
        """The polls sent in [start, end]."""
        return [answer for answer in self.answers if start <= answer.at <= end]


def percentile(values: list[float], share: float) -> float:
    """The value under which `share` (0 to 1) of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@asynccontextmanager
async def probing(url: str, every: float = 0.05) -> AsyncIterator[Probe]:
    """Poll `url` every `every` seconds, one request at a time, for the duration."""
    probe = Probe()

    async def poll() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                started = time.monotonic()
                try:
                    status = (await client.get(url)).status_code
                except httpx.TransportError:
                    status = 0
                probe.answers.append(Answer(started, status, time.monotonic() - started))
                await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))

    task = asyncio.create_task(poll())
    try:
        yield probe
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
