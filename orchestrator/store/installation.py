"""All SQL about installation values."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import InstallationValue
from orchestrator.store.dialect import insert

__all__ = ["InstallationStore"]

_value = InstallationValue.__table__  # type: ignore[attr-defined]


class InstallationStore:
    """Reads and writes installation values in the session's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def value(self, name: str, default: str, now: datetime) -> str:
        """The value stored under `name`, storing `default` first if there is none; when
        processes start together, the first one's value is everyone's."""
        await self._session.exec(
            insert(self._session, _value)
            .values(name=name, value=default, created_at=now)
            .on_conflict_do_nothing()
        )
        result = await self._session.exec(
            select(InstallationValue.value).where(col(InstallationValue.name) == name)
        )
        return result.one()
