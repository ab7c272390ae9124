"""What one process holds while it runs: settings, the engine, the clock, the signing secret."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
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
    #: Processes that validate large bulk requests; None validates in this process.
    bulk_pool: ProcessPoolExecutor | None = None

    async def close(self) -> None:
        """Stop the bulk validation processes and close every pooled database connection."""
        if self.bulk_pool is not None:
            self.bulk_pool.shutdown(cancel_futures=True)
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
    bulk_pool = None
    if settings.bulk_processes:
        # Processes start on first use; "spawn" because forking a process that runs an
        # event loop and database threads is unsafe.
        bulk_pool = ProcessPoolExecutor(
            settings.bulk_processes, mp_context=multiprocessing.get_context("spawn")
        )
    return Runtime(settings, engine, sessions, clock, secret_key, bulk_pool)
