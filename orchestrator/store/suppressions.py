"""All SQL about suppressions."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import Suppression
from orchestrator.store.dialect import insert, one_of

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

    async def matching(
        self, contact_ids: Collection[int], address_hashes: Collection[str]
    ) -> list[Suppression]:
        """Suppressions of these contacts, or of any of these address hashes."""
        if not contact_ids and not address_hashes:
            return []
        result = await self._session.exec(
            select(Suppression).where(
                or_(
                    one_of(self._session, col(Suppression.contact_id), contact_ids),
                    one_of(self._session, col(Suppression.address_hash), address_hashes),
                )
            )
        )
        return list(result)
