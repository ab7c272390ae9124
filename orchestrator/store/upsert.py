"""INSERT ... ON CONFLICT for whichever database the session is bound to."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = ["insert"]


def insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that knows `on_conflict_do_update` / `on_conflict_do_nothing` (both databases)."""
    if session.sync_session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
