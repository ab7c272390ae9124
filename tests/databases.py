"""The test databases: a migrated SQLite template, fresh PostgreSQL databases per session, and
transactions rolled back at the end of a test."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.database import create_engine
from app.migrations import migrate
from orchestrator.models import metadata

POSTGRES_ENV = "KIZUNA_TEST_POSTGRES_URL"
T = TypeVar("T")

#: Every table, children before parents.
TABLES = [table.name for table in reversed(metadata.sorted_tables)]
#: What the application stores on its own connection as it starts: its signing secret and
#: the bootstrap admin key, the same for every test.
STARTUP_TABLES = {"installation_value", "api_key"}


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


@asynccontextmanager
async def rolled_back(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions inside one transaction on one connection of `engine`, rolled back at the end.

    A session joins that transaction through a savepoint, so the code under test commits as
    it always does and only releases the savepoint: nothing is left for the next test. The
    sessions share the one connection: use them one after another, never concurrently.
    """
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield async_sessionmaker(
                connection,
                class_=AsyncSession,
                expire_on_commit=False,
                join_transaction_mode="create_savepoint",
            )
        finally:
            if transaction.is_active:
                await transaction.rollback()


@asynccontextmanager
async def shared_database(url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on `url` for tests that each roll back what they did: its connection is kept
    from test to test, and the database is checked to be empty at the end."""
    engine = create_engine(url, pool_size=1)
    try:
        yield engine
        left = await leftovers(engine)
    finally:
        await engine.dispose()
    assert not left, f"rows committed around the rolled-back transactions: {left}"


async def leftovers(engine: AsyncEngine) -> dict[str, int]:
    """The rows in `engine`'s database, per table, besides those the application starts with."""
    found: dict[str, int] = {}
    async with engine.connect() as connection:
        for name in TABLES:
            if name in STARTUP_TABLES:
                continue
            query = select(func.count()).select_from(metadata.tables[name])
            count = (await connection.execute(query)).scalar_one()
            if count:
                found[name] = count
    return found
