"""All SQL about events."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import false, func
from sqlalchemy import select as select_columns
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import Event, Touch
from orchestrator.store.dialect import is_postgresql, one_of, unnest_columns, unnest_params
from orchestrator.store.latest import latest_per_contact

__all__ = ["EventRow", "EventStore"]

_event = Event.__table__  # type: ignore[attr-defined]


class EventRow(TypedDict):
    """A new event as it is stored."""

    contact_id: int
    type: str
    dedupe_key: str
    touch_id: int | None
    source: str
    data: dict[str, Any]
    occurred_at: datetime
    received_at: datetime


def _add_many_postgresql() -> ReturningInsert[str, int]:
    """`INSERT ... SELECT FROM unnest(...)`, built once: every click and every webhook batch
    runs it, and building and keying it anew each time would cost more than the insert."""
    names = list(EventRow.__annotations__)
    batch = unnest_columns(_event, names, "events")
    return (
        postgresql.insert(_event)
        .from_select(names, select_columns(*(batch.c[name] for name in names)))
        .on_conflict_do_nothing(index_elements=[_event.c.dedupe_key])
        .returning(_event.c.dedupe_key, _event.c.id)
    )


_ADD_MANY_POSTGRESQL = _add_many_postgresql()


class EventStore:
    """Reads and writes events in the session's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(self, rows: Sequence[EventRow]) -> dict[str, int]:
        """Store events in one statement; the ids of those stored, by dedupe key. A row
        whose key exists already changes nothing."""
        if not rows:
            return {}
        if is_postgresql(self._session):
            result = await self._session.exec(
                _ADD_MANY_POSTGRESQL, params=unnest_params(rows, "events")
            )
        else:
            result = await self._session.exec(
                sqlite.insert(_event)
                .values(list(rows))
                .on_conflict_do_nothing(index_elements=[_event.c.dedupe_key])
                .returning(_event.c.dedupe_key, _event.c.id)
            )
        return {str(key): int(event_id) for key, event_id in result.all()}

    async def by_dedupe_key(self, dedupe_key: str) -> Event | None:
        """The event stored under this key."""
        result = await self._session.exec(select(Event).where(col(Event.dedupe_key) == dedupe_key))
        return result.first()

    async def with_steps_since(
        self, contact_ids: Collection[int], since: datetime
    ) -> list[tuple[Event, int | None, str | None]]:
        """The contacts' events since `since`, each with the enrollment and step of the touch
        it concerns (if any): what `wait_for_event` and branch conditions look at."""
        if not contact_ids:
            return []
        result = await self._session.exec(
            select(Event, Touch.enrollment_id, Touch.step_id)
            .join(Touch, col(Touch.id) == col(Event.touch_id), isouter=True)
            .where(
                one_of(self._session, col(Event.contact_id), contact_ids),
                col(Event.occurred_at) >= since,
            )
            .order_by(col(Event.occurred_at), col(Event.id))
        )
        return [(event, enrollment_id, step_id) for event, enrollment_id, step_id in result]

    async def latest_for_contacts(self, contact_ids: Collection[int], each: int) -> list[Event]:
        """Each contact's `each` latest events, newest first, in one query."""
        if not contact_ids:
            return []
        result = await self._session.exec(
            latest_per_contact(Event, "occurred_at", contact_ids, each)
        )
        return list(result)

    async def counts_by_step(self, campaign_id: int) -> list[tuple[str | None, str, int]]:
        """Events about the campaign's touches, counted by (step, event type); a link
        scanner's (`suspected_bot`) are not the contact's doing and are left out."""
        scanner = func.coalesce(_event.c.data["suspected_bot"].as_boolean(), false())
        result = await self._session.exec(
            select(Touch.step_id, Event.type, func.count())
            .join(Touch, col(Touch.id) == col(Event.touch_id))
            .where(col(Touch.campaign_id) == campaign_id, scanner.is_(false()))
            .group_by(col(Touch.step_id), col(Event.type))
        )
        return [(step, type_, count) for step, type_, count in result.all()]
