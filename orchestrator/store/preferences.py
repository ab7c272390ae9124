"""All SQL about contacts' preferences and their log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import Contact, PreferenceLog

__all__ = ["PreferenceStore"]


class PreferenceStore:
    """Reads and writes preferences in the session's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def set(
        self,
        contact: Contact,
        preferences: dict[str, Any] | None,
        paused_until: datetime | None,
        now: datetime,
    ) -> None:
        """Make `preferences` and the pause the contact's current ones."""
        contact.preferences = preferences
        contact.paused_until = paused_until
        contact.updated_at = now
        self._session.add(contact)

    def append(self, entries: Iterable[PreferenceLog]) -> None:
        """Add entries to the append-only preference log."""
        self._session.add_all(list(entries))

    async def log(self, contact_id: int) -> list[PreferenceLog]:
        """The contact's preference changes, oldest first."""
        result = await self._session.exec(
            select(PreferenceLog)
            .where(col(PreferenceLog.contact_id) == contact_id)
            .order_by(col(PreferenceLog.recorded_at), col(PreferenceLog.id))
        )
        return list(result)
