"""Values generated once per installation and shared by every process."""

from __future__ import annotations

import secrets

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.clock import Clock
from orchestrator.models import InstallationValue
from orchestrator.store.dialect import insert

__all__ = ["ensure_secret_key"]

_SECRET_KEY = "secret_key"


async def ensure_secret_key(session: AsyncSession, clock: Clock) -> str:
    """The installation's signing secret, generated on first use.

    Several processes may start together: the first insert wins and all read the same value.
    """
    await session.exec(
        insert(session, InstallationValue.__table__)  # type: ignore[attr-defined]
        .values(name=_SECRET_KEY, value=secrets.token_urlsafe(48), created_at=clock.now())
        .on_conflict_do_nothing()
    )
    result = await session.exec(
        select(InstallationValue.value).where(col(InstallationValue.name) == _SECRET_KEY)
    )
    return result.one()
