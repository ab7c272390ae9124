"""What differs between PostgreSQL and SQLite, behind one function each: upserts and
statements over many rows at once, in the fastest form each database offers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = ["insert", "is_postgresql", "update_by_id"]


def insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that knows `on_conflict_do_update` / `on_conflict_do_nothing` (both databases)."""
    if is_postgresql(session):
        return postgresql.insert(table)
    return sqlite.insert(table)


def is_postgresql(session: AsyncSession) -> bool:
    """Whether the session talks to PostgreSQL (else SQLite)."""
    return session.sync_session.get_bind().dialect.name == "postgresql"


async def update_by_id(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    types: Mapping[str, Any] | None = None,
) -> None:
    """Set each row's columns on the row with its `id`; every row gives the same columns.

    PostgreSQL gets one statement joining an unnested array per column; SQLite an
    executemany. `types` overrides a column's array element type (JSON variants).
    """
    if not rows:
        return
    columns = [name for name in rows[0] if name != "id"]
    if is_postgresql(session):
        names = ["id", *columns]
        arrays = [
            bindparam(
                f"values_{name}",
                [row[name] for row in rows],
                type_=postgresql.ARRAY((types or {}).get(name, table.c[name].type)),
            )
            for name in names
        ]
        batch = func.unnest(*arrays).table_valued(*names).render_derived()
        statement = (
            update(table)
            .where(table.c.id == batch.c.id)
            .values({name: batch.c[name] for name in columns})
        )
        await session.exec(statement)
        return
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({name: bindparam(f"row_{name}") for name in columns})
    )
    params = [{f"row_{k}" if k != "id" else "row_id": v for k, v in row.items()} for row in rows]
    await session.exec(statement, params=params)
