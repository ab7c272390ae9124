"""API keys: made once, shown once, stored as a SHA-256 hash, checked by scope."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from datetime import timedelta
from typing import Literal, get_args

from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.clock import Clock
from orchestrator.errors import Conflict, NotFound
from orchestrator.models import ApiKey
from orchestrator.store.api_keys import ApiKeyStore

__all__ = ["SCOPES", "ApiKeyService", "Scope", "hash_key", "new_key"]

Scope = Literal["admin", "campaigns", "worker", "events"]
SCOPES: tuple[str, ...] = get_args(Scope)

#: How stale `last_used_at` may grow before a request writes it again.
_LAST_USED_PRECISION = timedelta(minutes=1)


def new_key() -> str:
    """A fresh key: a recognisable prefix and 256 random bits."""
    return "kz_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The stored form of a key. Keys are random, so a plain hash cannot be guessed back."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyService:
    """Creates, checks and revokes keys in one unit of work."""

    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._keys = ApiKeyStore(session)
        self._clock = clock

    async def create(
        self, name: str, scopes: Collection[Scope], *, key: str | None = None
    ) -> tuple[ApiKey, str]:
        """Store a new key (random unless given) and return it with its secret."""
        secret = key or new_key()
        record = ApiKey(
            name=name,
            prefix=secret[:10],
            key_hash=hash_key(secret),
            scopes=sorted(set(scopes)),
            created_at=self._clock.now(),
        )
        return await self._keys.add(record), secret

    async def ensure(self, name: str, key: str, scopes: Collection[Scope]) -> ApiKey:
        """The key with this secret, created if it is not stored yet (`KIZUNA_ADMIN_API_KEY`)."""
        await self._keys.add_if_missing(
            ApiKey(
                name=name,
                prefix=key[:10],
                key_hash=hash_key(key),
                scopes=sorted(set(scopes)),
                created_at=self._clock.now(),
            )
        )
        stored = await self._keys.by_hash(hash_key(key))
        assert stored is not None
        return stored

    async def authenticate(self, key: str) -> ApiKey | None:
        """The live key matching `key`, its use noted; None if unknown or revoked."""
        record = await self._keys.by_hash(hash_key(key))
        if record is None or record.revoked_at is not None:
            return None
        now = self._clock.now()
        if record.last_used_at is None or now - record.last_used_at > _LAST_USED_PRECISION:
            assert record.id is not None
            await self._keys.note_use(record.id, now)
        return record

    async def list(self) -> list[ApiKey]:
        """Every key, revoked ones included."""
        return await self._keys.all()

    async def revoke(self, key_id: int) -> ApiKey:
        """Revoke a key; revoking twice keeps the first time. The last active admin key
        stays: without it nobody could make or revoke keys any more."""
        active = await self._keys.lock_active()
        record = next((key for key in active if key.id == key_id), None)
        if record is None:
            revoked = await self._keys.get(key_id)
            if revoked is None:
                raise NotFound(f"API key {key_id} does not exist")
            return revoked
        if "admin" in record.scopes and not any(
            "admin" in key.scopes for key in active if key is not record
        ):
            raise Conflict(
                f"API key {key_id} ({record.name}) is the last active admin key; revoking it "
                "would leave nobody able to manage keys. Create another admin key first."
            )
        record.revoked_at = self._clock.now()
        return record
