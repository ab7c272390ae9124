"""Leases that ran out: claimed tasks and messages go back to the queue, interrupted sends
become `in_doubt`."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.clock import Clock
from orchestrator.store.leases import LeaseStore

__all__ = ["reap_leases"]

_log = logging.getLogger("kizuna.housekeeping")


async def reap_leases(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> tuple[int, int]:
    """Release expired claims and mark expired sends in doubt; (released, in doubt)."""
    now = clock.now()
    async with sessions.begin() as session:
        store = LeaseStore(session)
        released = await store.release_expired_claims(now)
        in_doubt = await store.mark_in_doubt(now)
    if in_doubt:
        _log.warning("%d touches were interrupted mid-send and are in doubt", in_doubt)
    return released, in_doubt
