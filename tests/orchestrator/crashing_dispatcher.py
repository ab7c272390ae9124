"""A dispatcher process that stops dead inside its transaction, for the crash test.

Run as `python -m tests.orchestrator.crashing_dispatcher URL MARKER`: it claims a batch,
writes MARKER once the batch is locked and being worked on, then hangs there until killed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from app.database import create_engine, create_sessionmaker
from channels.base import ContactSnapshot
from channels.phone import PhoneChannel
from orchestrator.clock import SystemClock
from orchestrator.dispatcher import Dispatcher
from tests.engine import CHANNELS


class HangingPhone(PhoneChannel):
    """Tells the test it is mid-batch, then blocks the whole process."""

    def __init__(self, marker: Path) -> None:
        self._marker = marker

    def address(self, contact: ContactSnapshot, content: Mapping[str, str]) -> str | None:
        self._marker.write_text("inside the batch")
        time.sleep(3600)
        return contact.phone


async def main(url: str, marker: Path) -> None:
    engine = create_engine(url, pool_size=1)
    channels = {**CHANNELS, "phone": HangingPhone(marker)}
    await Dispatcher(create_sessionmaker(engine), SystemClock(), channels).run_once()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
