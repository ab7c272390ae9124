"""A contact's timeline: touches (with policy decisions), events, consent, and enrollments
starting and ending, newest first."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.errors import InvalidInput, NotFound
from orchestrator.store.contacts import ContactStore
from orchestrator.store.timeline import KINDS, RANK, Position, TimelineStore

__all__ = ["TimelineEntry", "TimelinePage", "TimelineService"]

_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(3000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the timeline: what kind, when, the stored row, and the name of the
    campaign it belongs to (None if none)."""

    kind: str
    at: datetime
    row: Any
    campaign_name: str | None = None

    @property
    def position(self) -> Position:
        return (self.at, self.kind, self.row.id)


@dataclass(frozen=True)
class TimelinePage:
    """Entries newest first; `next_cursor` fetches the older ones, None at the end."""

    entries: list[TimelineEntry]
    next_cursor: str | None


class TimelineService:
    """Reads one contact's timeline a page at a time."""

    def __init__(self, session: AsyncSession) -> None:
        self._contacts = ContactStore(session)
        self._timeline = TimelineStore(session)

    async def page(self, contact_id: int, cursor: str | None, limit: int) -> TimelinePage:
        """The `limit` newest entries older than `cursor` (from the previous page)."""
        before = _decode(cursor) if cursor else None
        if await self._contacts.get(contact_id) is None:
            raise NotFound(f"contact {contact_id} does not exist")
        entries: list[TimelineEntry] = []
        for kind, (_, time_attribute) in KINDS.items():
            for row, name in await self._timeline.page(kind, contact_id, before, limit + 1):
                entries.append(TimelineEntry(kind, getattr(row, time_attribute), row, name))
        entries.sort(key=_sort_key, reverse=True)
        page, more = entries[:limit], len(entries) > limit
        return TimelinePage(page, _encode(page[-1].position) if more and page else None)


def _sort_key(entry: TimelineEntry) -> tuple[datetime, int, int]:
    return entry.at, RANK[entry.kind], entry.row.id


def _encode(position: Position) -> str:
    at, kind, row_id = position
    raw = orjson.dumps([at.isoformat(), kind, row_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, kind, row_id = orjson.loads(raw)
        position = (datetime.fromisoformat(at), kind, int(row_id))
        instant = position[0]
        if kind not in KINDS or instant.tzinfo is None or not 0 < position[2] < 2**63:
            raise ValueError(kind)
        if not _EARLIEST <= instant <= _LATEST:
            raise ValueError(at)
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise InvalidInput(
            "The cursor is not one this API gave out.",
            errors=[{"loc": ["query", "cursor"], "msg": "unreadable cursor", "type": "cursor"}],
        ) from exc
    return position
