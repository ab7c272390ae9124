"""What differs between PostgreSQL and SQLite, behind one function each: upserts and
statements over many rows at once, in the fastest form each database offers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    String,
    Table,
    Text,
    any_,
    bindparam,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = [
    "insert",
    "insert_unnested",
    "is_postgresql",
    "one_of",
    "unnest_columns",
    "unnest_params",
    "unnested",
    "update_by_id",
]


def insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that knows `on_conflict_do_update` / `on_conflict_do_nothing` (both databases)."""
    if is_postgresql(session):
        return postgresql.insert(table)
    return sqlite.insert(table)


def is_postgresql(session: AsyncSession) -> bool:
    """Whether the session talks to PostgreSQL (else SQLite)."""
    return session.sync_session.get_bind().dialect.name == "postgresql"


def one_of(session: AsyncSession, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(array)`: one parameter however many
    values, so the statement compiles and plans once for every batch size."""
    values = list(values)
    if is_postgresql(session):
        return column == any_(literal(values, postgresql.ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


def unnested(
    table: Table, rows: Sequence[Mapping[str, Any]], prefix: str = "values"
) -> TableValuedAlias:
    """PostgreSQL: the rows as `unnest(array, array, ...) AS t(col, col, ...)`, one array
    per column, so a whole batch travels as one statement with a handful of parameters
    (named `{prefix}_{column}`: two batches in one statement need two prefixes)."""
    return _unnest(table, list(rows[0]), prefix, unnest_params(rows, prefix))


def unnest_columns(table: Table, names: Sequence[str], prefix: str) -> TableValuedAlias:
    """`unnested` with the arrays left to fill in (`unnest_params`) when it runs: a
    statement built once and run many times skips building and keying it each time."""
    return _unnest(table, names, prefix, None)


def _unnest(
    table: Table, names: Sequence[str], prefix: str, arrays: Mapping[str, list[Any]] | None
) -> TableValuedAlias:
    params = []
    for name in names:
        key, array_type = f"{prefix}_{name}", postgresql.ARRAY(_element(table, name))
        if arrays is None:
            params.append(bindparam(key, type_=array_type))
        else:
            params.append(bindparam(key, arrays[key], type_=array_type))
    return func.unnest(*params).table_valued(*names).render_derived()


def unnest_params(rows: Sequence[Mapping[str, Any]], prefix: str) -> dict[str, list[Any]]:
    """The arrays of `unnest_columns` for `rows`."""
    return {f"{prefix}_{name}": [row[name] for row in rows] for name in rows[0]}


def insert_unnested(table: Table, rows: Sequence[Mapping[str, Any]]) -> postgresql.Insert:
    """PostgreSQL: `INSERT INTO table (...) SELECT ... FROM unnest(...)` for the rows."""
    batch = unnested(table, rows)
    names = list(rows[0])
    return postgresql.insert(table).from_select(names, select(*(batch.c[n] for n in names)))


def _element(table: Table, name: str) -> Any:
    column_type = table.c[name].type
    if isinstance(column_type, JSON):  # the JSON/JSONB variant: JSONB, None as SQL NULL
        return postgresql.JSONB(none_as_null=True)
    if isinstance(column_type, String):
        # Unbounded: a cast to varchar(n)[] would cut long values silently; the column
        # itself refuses them.
        return Text()
    return column_type


async def update_by_id(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Set each row's columns on the row with its `id`; every row gives the same columns.

    PostgreSQL gets one statement joining the unnested batch; SQLite an executemany.
    """
    if not rows:
        return
    columns = [name for name in rows[0] if name != "id"]
    if is_postgresql(session):
        batch = unnested(table, rows)
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
