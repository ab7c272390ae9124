"""The test databases: a migrated SQLite template, and a fresh PostgreSQL database per session."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from app.migrations import migrate
from orchestrator.models import metadata

POSTGRES_ENV = "KIZUNA_TEST_POSTGRES_URL"
T = TypeVar("T")

#: Every table, children before parents.
TABLES = [table.name for table in reversed(metadata.sorted_tables)]


def postgres_server_url() -> str | None:
    """The server for the PostgreSQL tests; None where there is none, a failure in CI."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {POSTGRES_ENV} is not: the PostgreSQL tests must run in CI")
    return None


async def _admin(server_url: str, statement: str) -> None:
    dsn = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def run_beside(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion on an event loop of its own, in another thread.

    Fixtures may be set up while the tests' loop is running; this never touches that loop.
    """
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


@contextmanager
def fresh_postgres(server_url: str) -> Iterator[str]:
    """A new, migrated database on the server at `server_url`, dropped afterwards."""
    name = f"kizuna_test_{uuid.uuid4().hex[:12]}"
    run_beside(_admin(server_url, f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(drivername="postgresql+asyncpg", database=name)
    try:
        rendered = url.render_as_string(hide_password=False)
        with ThreadPoolExecutor(max_workers=1) as executor:
            executor.submit(migrate, rendered).result()
        yield rendered
    finally:
        run_beside(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def empty_postgres(url: str) -> None:
    """Empty every table of the database at `url`, identities restarted."""
    run_beside(_admin(url, f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))


def migrated_sqlite(directory: Path) -> Path:
    """A SQLite file migrated once; each test copies it instead of migrating again."""
    path = directory / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


def copy_sqlite(template: Path, directory: Path) -> str:
    """A fresh database for one test, copied from the migrated template."""
    path = directory / f"kizuna-{uuid.uuid4().hex[:8]}.db"
    shutil.copy(template, path)
    return f"sqlite+aiosqlite:///{path}"
