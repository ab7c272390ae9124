"""A dispatcher process that stops inside its transaction, for the crash and lock tests.

`python -m tests.orchestrator.crashing_dispatcher URL NOW MARKER [RELEASE]` claims a batch
at the test clock's NOW (ISO 8601) and writes MARKER once the batch is locked and being
worked on; then it hangs until killed, or, given RELEASE, until that file exists, and
finishes the batch.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from app.database import create_engine, create_sessionmaker
from channels.base import ContactSnapshot
from channels.phone import PhoneChannel
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import FakeClock
from orchestrator.dispatcher import Dispatcher
from tests.engine import CHANNELS


class StallingPhone(PhoneChannel):
    """Tells the test it is mid-batch, then blocks the whole process."""

    def __init__(self, marker: Path, release: Path | None) -> None:
        self._marker = marker
        self._release = release

    def address(self, contact: ContactSnapshot, content: Mapping[str, str]) -> str | None:
        if not self._marker.exists():
            self._marker.write_text("inside the batch")
            deadline = time.monotonic() + 3600
            while time.monotonic() < deadline and not (self._release and self._release.exists()):
                time.sleep(0.05)
        return contact.phone


async def main(url: str, now: datetime, marker: Path, release: Path | None) -> None:
    engine = create_engine(url, pool_size=1)
    channels = {**CHANNELS, "phone": StallingPhone(marker, release)}
    try:
        await Dispatcher(
            create_sessionmaker(engine), FakeClock(now), channels, CampaignCatalog()
        ).run_once()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    release = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    asyncio.run(main(sys.argv[1], datetime.fromisoformat(sys.argv[2]), Path(sys.argv[3]), release))
