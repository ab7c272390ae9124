"""What the benchmarks share: a scratch PostgreSQL database and a served Kizuna to measure."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url
from sqlmodel.ext.asyncio.session import AsyncSession

from app.migrations import migrate
from orchestrator.campaign_checks import parse_campaign
from orchestrator.clock import Clock
from orchestrator.services.campaigns import CampaignService

__all__ = [
    "Server",
    "activate",
    "analyze",
    "asyncpg_dsn",
    "cpu_seconds",
    "scratch_postgres",
    "served",
]

SERVER_URL = os.environ.get(
    "KIZUNA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ADMIN_KEY = "kz_bench_admin_key_0123456789abcdef"


async def activate(session: AsyncSession, clock: Clock, definition: dict[str, Any]) -> int:
    """Define and activate a campaign; its id."""
    service = CampaignService(session, clock)
    view = await service.create(parse_campaign(definition))
    assert view.campaign.id is not None
    await service.transition(view.campaign.id, "activate")
    return view.campaign.id


async def copy_contacts(
    url: str,
    columns: Sequence[str],
    records: Iterable[tuple[Any, ...]],
    *then: tuple[str, Any],
) -> None:
    """Contacts straight into the table with COPY, then each `(statement, argument)` of
    `then`: a benchmark's setup, never what it measures."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.copy_records_to_table("contact", columns=columns, records=records)
        for statement, argument in then:
            await connection.execute(statement, argument)
    finally:
        await connection.close()


async def analyze(url: str) -> None:
    """Gather the planner's statistics, as autovacuum has in a live database: a benchmark's
    freshly loaded tables have none, and the plans without them are not the real ones."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def asyncpg_dsn(url: str) -> str:
    """`url` in the form asyncpg connects to."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(SERVER_URL))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@asynccontextmanager
async def scratch_postgres() -> AsyncIterator[str]:
    """A new, migrated database (SQLAlchemy URL), dropped afterwards."""
    name = f"kizuna_bench_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = make_url(SERVER_URL).set(drivername="postgresql+asyncpg", database=name)
    rendered = url.render_as_string(hide_password=False)
    try:
        # Alembic's env runs an event loop of its own.
        await asyncio.to_thread(migrate, rendered)
        yield rendered
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Server:
    """A `kizuna serve` process: its address and its memory."""

    def __init__(self, process: subprocess.Popen[bytes], base_url: str) -> None:
        self.process = process
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {ADMIN_KEY}"}

    def rss_mib(self) -> float:
        """Resident memory now of the server and its child processes, from /proc (Linux)."""
        return sum(_status_kib(pid, "VmRSS") for pid in self._pids()) / 1024

    def peak_rss_mib(self) -> float:
        """The sum of each process's highest resident memory so far."""
        return sum(_status_kib(pid, "VmHWM") for pid in self._pids()) / 1024

    def _pids(self) -> list[int]:
        pids, index = [self.process.pid], 0
        while index < len(pids):
            for task in Path(f"/proc/{pids[index]}/task").iterdir():
                pids += [int(child) for child in (task / "children").read_text().split()]
            index += 1
        return pids


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) the process has used so far, from /proc (Linux): on a
    busy machine, steadier than the wall clock."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


@contextmanager
def served(database_url: str, settings: Mapping[str, str] | None = None) -> Iterator[Server]:
    """`kizuna serve` on a free port over `database_url` (and other `KIZUNA_` `settings`),
    stopped afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env |= {
        "KIZUNA_DATABASE_URL": database_url,
        "KIZUNA_PORT": str(port),
        "KIZUNA_ADMIN_API_KEY": ADMIN_KEY,
        "KIZUNA_LOG_LEVEL": "WARNING",
        **(settings or {}),
    }
    kizuna = str(Path(sys.executable).with_name("kizuna"))
    process = subprocess.Popen([kizuna, "serve"], env=env, stdout=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base_url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("kizuna serve did not become ready")
            time.sleep(0.1)
        yield Server(process, base_url)
    finally:
        process.terminate()
        process.wait(timeout=30)
