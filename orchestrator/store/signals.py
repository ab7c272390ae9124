"""Waking dispatcher processes through the database (PostgreSQL LISTEN/NOTIFY)."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.store.dialect import is_postgresql

__all__ = ["WAKE_CHANNEL", "notify_dispatchers"]

WAKE_CHANNEL = "kizuna_wake"


async def notify_dispatchers(session: AsyncSession) -> None:
    """Tell every listening dispatcher that work is due; delivered when the transaction
    commits, and not at all if it rolls back. (SQLite: one process, woken in-process.)"""
    if is_postgresql(session):
        await session.exec(text(f"NOTIFY {WAKE_CHANNEL}"))  # type: ignore[call-overload]
