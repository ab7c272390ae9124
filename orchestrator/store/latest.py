"""Each contact's newest rows of a table, for a whole batch of contacts in one query."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import func
from sqlmodel import SQLModel, select
from sqlmodel.sql.expression import SelectOfScalar

__all__ = ["latest_per_contact"]

Row = TypeVar("Row", bound=SQLModel)


def latest_per_contact(
    model: type[Row], time_column: str, contact_ids: Collection[int], each: int
) -> SelectOfScalar[Row]:
    """The `each` newest rows (by `time_column`, then id) of every contact in `contact_ids`,
    ordered by contact, newest first."""
    table: Any = model.__table__  # type: ignore[attr-defined]
    newest_first = (table.c[time_column].desc(), table.c.id.desc())
    rank = func.row_number().over(partition_by=table.c.contact_id, order_by=newest_first)
    ranked = (
        select(table.c.id, rank.label("rank"))
        .where(table.c.contact_id.in_(list(contact_ids)))
        .subquery()
    )
    return (
        select(model)
        .join(ranked, ranked.c.id == table.c.id)
        .where(ranked.c.rank <= each)
        .order_by(table.c.contact_id, *newest_first)
    )
