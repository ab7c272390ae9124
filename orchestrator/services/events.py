"""Event intake: store each event once, end the enrollments whose goal it is, wake the waiting."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import Clock
from orchestrator.conditions import contains, suspected_bot
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.messages import shown
from orchestrator.models import Enrollment, Event
from orchestrator.models.checks import storable
from orchestrator.models.instants import Instant
from orchestrator.store.contacts import ContactStore
from orchestrator.store.enrollments import EnrollmentStore
from orchestrator.store.events import EventRow, EventStore
from orchestrator.store.signals import notify_dispatchers
from orchestrator.store.touches import TouchStore

__all__ = ["EventIn", "EventService", "NewEvent", "Recorded", "RecordedBatch", "keyed_digest"]


class EventIn(BaseModel):
    """A custom event from a client: `purchased`, `meeting_booked`, `replied`, ..."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    contact_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    external_id: str | None = Field(default=None, min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.-]*$")
    occurred_at: Instant | None = None
    idempotency_key: str = Field(min_length=1, max_length=200)
    touch_id: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="the touch it is about (a click on a mail)"
    )
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)

    @model_validator(mode="after")
    def _one_contact(self) -> EventIn:
        if (self.contact_id is None) == (self.external_id is None):
            raise ValueError("give exactly one of `contact_id` and `external_id`")
        return self


@dataclass(frozen=True)
class NewEvent:
    """An event to record: `dedupe_key` makes a second one with the same key change nothing."""

    contact_id: int
    type: str
    data: Mapping[str, Any]
    dedupe_key: str
    source: str
    occurred_at: datetime | None = None
    touch_id: int | None = None


@dataclass(frozen=True)
class RecordedBatch:
    """What a batch of events did: how many were stored, goals reached, enrollments woken."""

    created: int
    goals_reached: int
    woken: int


@dataclass(frozen=True)
class Recorded:
    """The stored event; `created` is False when it was a duplicate that changed nothing."""

    event: Event
    created: bool
    goals_reached: int = 0
    woken: int = 0


def keyed_digest(secret_key: str, text: str) -> str:
    """`text` as an HMAC-SHA256 under a key derived from the installation's secret: the same
    text always gives the same digest, and the digest tells nothing of the text."""
    key = hmac.new(secret_key.encode(), b"kizuna event dedupe keys", hashlib.sha256).digest()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


class EventService:
    """Events in one unit of work: the caller commits (and then wakes the dispatcher)."""

    def __init__(self, session: AsyncSession, clock: Clock, catalog: CampaignCatalog) -> None:
        self._session = session
        self._contacts = ContactStore(session)
        self._events = EventStore(session)
        self._enrollments = EnrollmentStore(session)
        self._catalog = catalog
        self._clock = clock

    async def record_api_event(self, event: EventIn, *, secret_key: str) -> Recorded:
        """A client's event; its idempotency key makes a retry harmless. The key is kept
        only as a keyed hash (`secret_key`, the installation's): clients put order numbers
        and addresses in it, and erasing a contact must leave none of them behind."""
        if event.contact_id is not None:
            contact = await self._contacts.get(event.contact_id)
        else:
            assert event.external_id is not None
            contact = await self._contacts.get_by_external_id(event.external_id)
        if contact is None or contact.erased_at is not None:
            who = event.contact_id if event.contact_id is not None else event.external_id
            raise NotFound(f"contact {shown(who)} does not exist")
        assert contact.id is not None
        if event.touch_id is not None:
            touch = await TouchStore(self._session).get(event.touch_id)
            if touch is None or touch.contact_id != contact.id:
                raise InvalidInput(
                    f"touch {event.touch_id} is not one of this contact's",
                    errors=[{"loc": ["body", "touch_id"], "msg": "unknown touch", "type": "touch"}],
                )
        return await self.record(
            contact_id=contact.id,
            type=event.type,
            data=event.data,
            # Keys are the client's, per contact: another contact's event never answers.
            dedupe_key=f"api:{contact.id}:{keyed_digest(secret_key, event.idempotency_key)}",
            source="api",
            occurred_at=event.occurred_at,
            touch_id=event.touch_id,
        )

    async def record(
        self,
        *,
        contact_id: int,
        type: str,
        data: Mapping[str, Any],
        dedupe_key: str,
        source: str,
        occurred_at: datetime | None = None,
        touch_id: int | None = None,
    ) -> Recorded:
        """Store an event once; a new one ends enrollments whose goal it is and wakes the
        enrollments that wait for an event (the dispatcher looks at them at once)."""
        now = self._clock.now()
        event = NewEvent(contact_id, type, data, dedupe_key, source, occurred_at, touch_id)
        (row,) = self._rows([event], now)
        stored = await self._events.add_many([row])
        if dedupe_key not in stored:
            existing = await self._events.by_dedupe_key(dedupe_key)
            assert existing is not None
            return Recorded(existing, created=False)
        goals, woken = await self._follow_up([row], now)
        return Recorded(Event(id=stored[dedupe_key], **row), True, goals, woken)

    async def record_many(self, events: Sequence[NewEvent]) -> RecordedBatch:
        """`record` for a batch, in a fixed number of statements however large it is: each
        new event stored once, goals reached and waiting enrollments woken."""
        now = self._clock.now()
        rows = list({row["dedupe_key"]: row for row in self._rows(events, now)}.values())
        stored = await self._events.add_many(rows)
        fresh = [row for row in rows if row["dedupe_key"] in stored]
        goals, woken = await self._follow_up(fresh, now)
        return RecordedBatch(len(fresh), goals, woken)

    @staticmethod
    def _rows(events: Iterable[NewEvent], now: datetime) -> list[EventRow]:
        return [
            {
                "contact_id": event.contact_id,
                "type": event.type,
                "dedupe_key": event.dedupe_key,
                "touch_id": event.touch_id,
                "source": event.source,
                "data": dict(event.data),
                "occurred_at": event.occurred_at or now,
                "received_at": now,
            }
            for event in events
        ]

    async def _follow_up(self, fresh: Sequence[EventRow], now: datetime) -> tuple[int, int]:
        """What new events set off: goals reached, and the waiting enrollments woken (how
        many of each)."""
        if not fresh:
            return 0, 0
        running = await self._enrollments.running_for_contacts({row["contact_id"] for row in fresh})
        if not running:
            return 0, 0
        reached = await self._reach_goals(running, fresh, now)
        # Most events concern no journey waiting for one: then there is nothing to wake.
        waiting = {
            e.contact_id
            for e in running
            if e.state == "active" and e.awaiting_event and e.id not in reached
        }
        woken = await self._enrollments.wake(waiting, now)
        if woken:
            await notify_dispatchers(self._session)
        return len(reached), woken

    async def _reach_goals(
        self, running: Sequence[Enrollment], fresh: Sequence[EventRow], now: datetime
    ) -> set[int]:
        """End the running enrollments whose goal one of their contact's new events is."""
        keys = {(e.campaign_id, e.campaign_version) for e in running}
        definitions = await self._catalog.get_many(self._session, keys)
        by_contact: dict[int, list[EventRow]] = {}
        for row in fresh:
            if not suspected_bot(row["data"]):
                by_contact.setdefault(row["contact_id"], []).append(row)
        reached = {
            e.id
            for e in running
            if e.id is not None
            and (goal := definitions[(e.campaign_id, e.campaign_version)].goal) is not None
            and any(
                row["type"] == goal.event and contains(row["data"], goal.data or {})
                for row in by_contact.get(e.contact_id, ())
            )
        }
        await self._enrollments.finish(reached, "exited", "goal", now)
        await TouchStore(self._session).cancel_open("enrollment_id", reached, "goal reached", now)
        return reached
