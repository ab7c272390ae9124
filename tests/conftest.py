"""Fixtures: every database test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

# Installs the test channel plugin before anything asks the channel registry.
import tests.plugin_channel  # noqa: F401
from app.database import create_engine, create_sessionmaker, is_sqlite
from app.main import create_app
from app.settings import Settings
from orchestrator.clock import FakeClock
from tests.databases import (
    copy_sqlite,
    empty_postgres,
    fresh_postgres,
    migrated_sqlite,
    postgres_server_url,
    rolled_back,
    shared_database,
)

ADMIN_KEY = "kz_test_admin_key_0123456789abcdef"
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 10:00 in Tokyo


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "rolled_back(enabled=True): the test runs inside one transaction rolled back at its "
        "end, on a database shared with the other such tests; its commits only release "
        "savepoints. For tests whose database work is sequential, on one connection.",
    )


def is_rolled_back(request: pytest.FixtureRequest) -> bool:
    """Whether the test is marked `rolled_back` (and not `rolled_back(False)` closer to it)."""
    marker = request.node.get_closest_marker("rolled_back")
    return marker is not None and bool(marker.args[0] if marker.args else True)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_sqlite(tmp_path_factory.mktemp("sqlite"))


def _postgres_server() -> str:
    server = postgres_server_url()
    if server is None:
        pytest.skip("no PostgreSQL: set KIZUNA_TEST_POSTGRES_URL to run these tests")
    return server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_postgres(_postgres_server()) as url:
        yield url


@pytest.fixture(scope="session")
async def shared_sqlite(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    """The SQLite database of the `rolled_back` tests."""
    async with shared_database(
        copy_sqlite(sqlite_template, tmp_path_factory.mktemp("shared"))
    ) as engine:
        yield engine


@pytest.fixture(scope="session")
async def shared_postgresql() -> AsyncIterator[AsyncEngine]:
    """The PostgreSQL database of the `rolled_back` tests, apart from the one emptied per test."""
    with fresh_postgres(_postgres_server()) as url:
        async with shared_database(url) as engine:
            yield engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated database of each kind: empty for this test or, for a `rolled_back` test,
    shared with the others and left empty by each."""
    if is_rolled_back(request):
        shared: AsyncEngine = request.getfixturevalue(f"shared_{request.param}")
        return shared.url.render_as_string(hide_password=False)
    if request.param == "sqlite":
        return copy_sqlite(sqlite_template, tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return url


@pytest.fixture
async def committing_sessions(
    database_url: str,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def shared_engine(request: pytest.FixtureRequest, database_url: str) -> AsyncEngine:
    engine: AsyncEngine = request.getfixturevalue(
        "shared_sqlite" if is_sqlite(database_url) else "shared_postgresql"
    )
    return engine


@pytest.fixture
async def rolled_back_sessions(
    shared_engine: AsyncEngine,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with rolled_back(shared_engine) as sessions:
        yield sessions


@pytest.fixture
def sessions(request: pytest.FixtureRequest, database_url: str) -> async_sessionmaker[AsyncSession]:
    """Sessions on the test's database, for tests that read or write it directly.

    In a `rolled_back` test they all share the test's one transaction, the application's
    sessions too; the application starts before that transaction begins, since on SQLite it
    would wait for it to write its signing secret and admin key. (`database_url` makes the
    fixture run once per kind of database.)
    """
    if not is_rolled_back(request):
        committing: async_sessionmaker[AsyncSession] = request.getfixturevalue(
            "committing_sessions"
        )
        return committing
    if "app" in request.fixturenames:
        request.getfixturevalue("running_app")
    bound: async_sessionmaker[AsyncSession] = request.getfixturevalue("rolled_back_sessions")
    return bound


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        admin_api_key=ADMIN_KEY,
        _env_file=None,
    )


@pytest.fixture
async def running_app(settings: Settings, clock: FakeClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def app(request: pytest.FixtureRequest, running_app: FastAPI) -> FastAPI:
    """The application with its lifespan running; in a `rolled_back` test its requests use
    the test's transaction."""
    if is_rolled_back(request):
        running_app.state.runtime.sessions = request.getfixturevalue("sessions")
    return running_app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the application, authenticated as admin."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://kizuna.test",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ) as http:
        yield http
