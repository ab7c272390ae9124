"""All SQL about API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import ApiKey
from orchestrator.store.dialect import insert, is_postgresql

__all__ = ["ApiKeyStore"]

_api_key = ApiKey.__table__  # type: ignore[attr-defined]


class ApiKeyStore:
    """Reads and writes API keys in the session's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_hash(self, key_hash: str) -> ApiKey | None:
        """The key whose secret hashes to `key_hash`, revoked or not."""
        result = await self._session.exec(select(ApiKey).where(col(ApiKey.key_hash) == key_hash))
        return result.first()

    async def get(self, key_id: int) -> ApiKey | None:
        """The key with this id, as stored now."""
        return await self._session.get(ApiKey, key_id, populate_existing=True)

    async def all(self) -> list[ApiKey]:
        """Every key, newest first."""
        result = await self._session.exec(select(ApiKey).order_by(col(ApiKey.id).desc()))
        return list(result)

    async def lock_active(self) -> list[ApiKey]:
        """Every key not revoked, locked until the transaction ends, so that revocations
        running at once each see what the others left."""
        statement = (
            select(ApiKey)
            .where(col(ApiKey.revoked_at).is_(None))
            .order_by(col(ApiKey.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return list(await self._session.exec(statement))

    async def add(self, key: ApiKey) -> ApiKey:
        """Store a new key and give it its id."""
        self._session.add(key)
        await self._session.flush()
        return key

    async def add_if_missing(self, key: ApiKey) -> None:
        """Store a key unless one with its hash exists (processes starting together)."""
        row = key.model_dump(exclude={"id"})
        statement = insert(self._session, _api_key).values(**row)
        await self._session.exec(statement.on_conflict_do_nothing())

    async def note_use(self, key_id: int, now: datetime) -> None:
        """Record when a key was last used, unless another request is recording it: a
        request must never wait for another's transaction just to say so."""
        if is_postgresql(self._session):
            free = select(ApiKey.id).where(col(ApiKey.id) == key_id)
            if (
                await self._session.exec(free.with_for_update(skip_locked=True, key_share=True))
            ).first() is None:
                return
        await self._session.exec(
            update(_api_key).where(_api_key.c.id == key_id).values(last_used_at=now)
        )
