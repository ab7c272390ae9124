"""A PostgreSQL cluster of the chaos run's own, on a free port in a temporary directory,
so it can be restarted without disturbing anyone else's server."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg

from app.migrations import migrate
from tests.smtp_sink import free_port

__all__ = ["Cluster", "private_cluster"]

#: Where Debian-style packages install the server's programs; PG_BIN overrides.
_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
#: The server refuses to run as root: its programs run as this user.
_OWNER = "postgres"


class Cluster:
    """A running cluster: its port, its databases, and `pg_ctl` to stop and start it."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of `database` in this cluster."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def pg_ctl(self, action: str, *options: str) -> None:
        """`pg_ctl action` on this cluster, as the server's user, waiting until done."""
        server_options = (
            f"-p {self.port} -k {self.directory} -h 127.0.0.1 -F -c max_connections=300"
        )
        command = [str(_BIN / "pg_ctl"), "-D", str(self.directory / "data"), "-w", "-t", "60"]
        command += ["-l", str(self.directory / "server.log"), "-o", server_options]
        _as_owner([*command, *options, action])

    @asynccontextmanager
    async def database(self) -> AsyncIterator[str]:
        """A new, migrated database (SQLAlchemy URL), dropped afterwards."""
        name = f"chaos_{uuid.uuid4().hex[:10]}"
        await self._admin(f'CREATE DATABASE "{name}"')
        url = self.url(name)
        try:
            await asyncio.to_thread(migrate, url)
            yield url
        finally:
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def _admin(self, statement: str) -> None:
        connection = await asyncpg.connect(self.admin_dsn)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()


def _as_owner(command: list[str]) -> None:
    if os.geteuid() == 0:
        command = ["runuser", "-u", _OWNER, "--", *command]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A fresh cluster (trust authentication, no fsync: nothing here must outlive the run),
    started, then stopped and deleted."""
    directory = Path(tempfile.mkdtemp(prefix="kizuna-chaos-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(directory, _OWNER)
        _as_owner([str(_BIN / "initdb"), "-D", str(directory / "data"), "-A", "trust",
                   "-U", "postgres", "--no-sync"])  # fmt: skip
        cluster = Cluster(directory, free_port())
        cluster.pg_ctl("start")
        try:
            yield cluster
        finally:
            cluster.pg_ctl("stop", "-m", "immediate")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
