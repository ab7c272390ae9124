"""All SQL about policy versions."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import PolicyVersion
from orchestrator.store.dialect import is_postgresql

__all__ = ["PolicyStore"]

#: The advisory lock key that serialises new policy versions.
_NUMBERING_LOCK = 0x4B5A504F


class PolicyStore:
    """Reads and writes policy versions in the session's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def current(self) -> PolicyVersion | None:
        """The newest version, which is in force."""
        result = await self._session.exec(
            select(PolicyVersion).order_by(col(PolicyVersion.version).desc()).limit(1)
        )
        return result.first()

    async def get(self, version: int) -> PolicyVersion | None:
        return await self._session.get(PolicyVersion, version)

    async def all(self) -> list[PolicyVersion]:
        """Every version, newest first."""
        result = await self._session.exec(
            select(PolicyVersion).order_by(col(PolicyVersion.version).desc())
        )
        return list(result)

    async def lock_numbering(self) -> None:
        """Let one writer at a time pick the next version number (until it commits)."""
        if is_postgresql(self._session):
            await self._session.exec(select(func.pg_advisory_xact_lock(_NUMBERING_LOCK)))

    async def next_version(self) -> int:
        result = await self._session.exec(select(func.max(PolicyVersion.version)))
        return int(result.one() or 0) + 1

    async def add(self, version: PolicyVersion) -> None:
        """Store a version; two writers racing for one number fail on the primary key."""
        self._session.add(version)
        await self._session.flush()
