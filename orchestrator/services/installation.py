"""Values generated once per installation and shared by every process."""

from __future__ import annotations

import secrets

from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.clock import Clock
from orchestrator.store.installation import InstallationStore

__all__ = ["ensure_secret_key"]


async def ensure_secret_key(session: AsyncSession, clock: Clock) -> str:
    """The installation's signing secret, generated on first use."""
    return await InstallationStore(session).value(
        "secret_key", secrets.token_urlsafe(48), clock.now()
    )
