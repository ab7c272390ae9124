"""All SQL about API keys."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import ApiKey

__all__ = ["ApiKeyStore"]


class ApiKeyStore:
    """Reads and writes API keys in the session's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_hash(self, key_hash: str) -> ApiKey | None:
        """The key whose secret hashes to `key_hash`, revoked or not."""
        result = await self._session.exec(select(ApiKey).where(col(ApiKey.key_hash) == key_hash))
        return result.first()

    async def get(self, key_id: int) -> ApiKey | None:
        """The key with this id."""
        return await self._session.get(ApiKey, key_id)

    async def all(self) -> list[ApiKey]:
        """Every key, newest first."""
        result = await self._session.exec(select(ApiKey).order_by(col(ApiKey.id).desc()))
        return list(result)

    async def add(self, key: ApiKey) -> ApiKey:
        """Store a new key and give it its id."""
        self._session.add(key)
        await self._session.flush()
        return key
