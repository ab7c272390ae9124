"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.database import create_engine
from app.migrations import alembic_config, migrate
from orchestrator.models import metadata


def in_thread(function, *args) -> None:
    """Alembic's env runs an event loop of its own; it may not share the tests' thread."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(function, *args).result()


async def schema_differences(url: str) -> list:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()


async def table_names(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_the_migrated_schema_matches_the_models(database_url):
    assert await schema_differences(database_url) == []


async def test_migrations_go_down_to_nothing_and_up_again(database_url):
    in_thread(command.downgrade, alembic_config(database_url), "base")
    assert await table_names(database_url) <= {"alembic_version"}
    in_thread(migrate, database_url, "head")
    assert {table.name for table in metadata.sorted_tables} <= await table_names(database_url)
    assert await schema_differences(database_url) == []
