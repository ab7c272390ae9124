"""All SQL about suppressions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import Suppression
from orchestrator.store.upsert import insert

__all__ = ["SuppressionStore"]

_suppression = Suppression.__table__  # type: ignore[attr-defined]


class SuppressionStore:
    """Reads and writes suppressions in the session's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(self, suppressions: Sequence[Suppression]) -> None:
        """Record suppressions; one that exists already stays as it was."""
        if not suppressions:
            return
        rows = [s.model_dump(exclude={"id"}) for s in suppressions]
        statement = insert(self._session, _suppression).on_conflict_do_nothing()
        await self._session.exec(statement, params=rows)
