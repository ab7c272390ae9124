"""Scratch databases: where a simulation runs, apart from the live one.

Each run gets a SQLite file of its own, copied from an empty template migrated the way the
application migrates, so it has the live schema exactly. A file, not a transaction rolled
back on the live database: nothing a simulation does can reach the live tables whatever
database they are in, it holds no live locks for the seconds it runs (on SQLite a long
transaction would stop every writer), and its run sees no one else's changes.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = ["Scratch", "scratch_database"]


@dataclass(frozen=True)
class Scratch:
    """An empty migrated SQLite file to start from, and how the application opens a
    database at a URL (its engine settings)."""

    template: Path
    open_engine: Callable[[str], AsyncEngine]


@asynccontextmanager
async def scratch_database(
    scratch: Scratch, directory: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a fresh copy of the template in `directory`, deleted afterwards."""
    path = directory / f"simulation-{uuid.uuid4().hex[:12]}.db"
    shutil.copy(scratch.template, path)
    engine = scratch.open_engine(f"sqlite+aiosqlite:///{path}")
    try:
        yield async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    finally:
        await engine.dispose()
        _remove(path)


def _remove(path: Path) -> None:
    """The database file and its journal files."""
    for leftover in path.parent.glob(f"{path.name}*"):
        leftover.unlink(missing_ok=True)
