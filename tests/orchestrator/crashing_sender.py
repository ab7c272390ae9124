"""A sending process for the crash test: one outbox pass over an SMTP sink.

`python -m tests.orchestrator.crashing_sender URL NOW PORT POOL` claims a batch of email
touches at the test clock's NOW (ISO 8601) and sends them to 127.0.0.1:PORT with POOL
connections and POOL deliveries at once; the test kills it while the sink holds the
transactions open.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from app.database import create_engine, create_sessionmaker
from channels.email import EmailChannel, SmtpConfig
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import FakeClock
from orchestrator.outbox import Outbox
from tests.engine import CHANNELS


async def main(url: str, now: datetime, port: int, pool: int) -> None:
    engine = create_engine(url, pool_size=2)
    email = EmailChannel(SmtpConfig(port=port, pool_size=pool))
    channels = {**CHANNELS, "email": email}
    try:
        await Outbox(
            create_sessionmaker(engine),
            FakeClock(now),
            channels,
            CampaignCatalog(),
            batch_size=20,
            concurrency=pool,
        ).run_once()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    _, url, now, port, pool = sys.argv
    asyncio.run(main(url, datetime.fromisoformat(now), int(port), int(pool)))
