"""What one process holds while it runs: settings, the engine, the clock, the signing secret."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.database import create_engine, create_sessionmaker
from app.settings import Settings
from orchestrator.clock import Clock
from orchestrator.services.api_keys import ApiKeyService
from orchestrator.services.installation import ensure_secret_key

__all__ = ["Runtime", "start_runtime"]


@dataclass(frozen=True)
class Runtime:
    """The process's shared parts, built once at start and disposed at stop."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    secret_key: str

    async def close(self) -> None:
        """Close every pooled database connection."""
        await self.engine.dispose()


async def start_runtime(settings: Settings, clock: Clock) -> Runtime:
    """Connect, and make sure the signing secret and the bootstrap admin key exist."""
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions.begin() as session:
            if settings.secret_key is not None:
                secret_key = settings.secret_key.get_secret_value()
            else:
                secret_key = await ensure_secret_key(session, clock)
            if settings.admin_api_key is not None:
                await ApiKeyService(session, clock).ensure(
                    "admin (KIZUNA_ADMIN_API_KEY)",
                    settings.admin_api_key.get_secret_value(),
                    ["admin"],
                )
    except BaseException:
        await engine.dispose()
        raise
    return Runtime(settings, engine, sessions, clock, secret_key)
