"""The worker API's use cases: claim tasks with a lease, keep it alive, complete or fail them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import Channel
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import Clock
from orchestrator.errors import Conflict, InvalidInput, NotFound
from orchestrator.models import ApiKey, ConsentLog, Contact, Event, Touch
from orchestrator.models.checks import storable
from orchestrator.models.contact import ContactPreferences
from orchestrator.services.events import EventService
from orchestrator.services.preferences import PreferenceService
from orchestrator.store.contacts import ContactStore
from orchestrator.store.events import EventStore
from orchestrator.store.leases import LeaseStore
from orchestrator.store.touches import TouchStore
from orchestrator.withdrawals import refused, withdrawn

__all__ = [
    "ClaimedTask",
    "TaskClaim",
    "TaskCompletion",
    "TaskFailure",
    "TaskHeartbeat",
    "TaskService",
]

#: How much of a contact's past a worker sees with each task.
_HISTORY = 10
#: Rendered content one claim hands out at most (characters; each field is at most 1 MiB):
#: a claim of 500 tasks with huge scripts would otherwise be a response of gigabytes.
CLAIM_CONTENT_BUDGET = 8 * 1024 * 1024


class _WorkerInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    worker: str = Field(min_length=1, max_length=100, description="who works on the task")

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class TaskClaim(_WorkerInput):
    """Lease the oldest open tasks of a channel."""

    channel: str = Field(min_length=1, max_length=32)
    limit: int = Field(default=1, ge=1, le=500)
    lease_seconds: int = Field(default=300, ge=10, le=86_400)


class TaskHeartbeat(_WorkerInput):
    """Extend a lease."""

    lease_seconds: int = Field(default=300, ge=10, le=86_400)


class TaskCompletion(_WorkerInput):
    """The outcome of a task, what the worker learned, and any consent or preferences the
    contact gave."""

    outcome: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)
    consent: dict[str, Literal["opted_in", "opted_out", "unknown"]] = Field(default_factory=dict)
    preferences: ContactPreferences | None = Field(
        default=None,
        description="what the contact asked for on the call: the channels named, and "
        "`topics` and `paused_until` if given, change; the rest stays (logged as `call`)",
    )
    notes: str | None = Field(default=None, max_length=10_000)


class TaskFailure(_WorkerInput):
    """The task could not be done: give it back for someone else, or fail it for good."""

    reason: str = Field(min_length=1, max_length=1_000)
    retry: bool = True


@dataclass(frozen=True)
class ClaimedTask:
    """A leased task with everything the worker needs to do it."""

    touch: Touch
    contact: Contact
    history: list[Touch]
    events: list[Event]


class TaskService:
    """Tasks in one unit of work: the caller commits (then wakes the dispatcher)."""

    def __init__(
        self,
        session: AsyncSession,
        clock: Clock,
        channels: Mapping[str, Channel],
        catalog: CampaignCatalog,
    ) -> None:
        self._session = session
        self._touches = TouchStore(session)
        self._contacts = ContactStore(session)
        self._events = EventStore(session)
        self._event_intake = EventService(session, clock, catalog)
        self._channels = channels
        self._clock = clock

    async def claim(self, claim: TaskClaim, key: ApiKey) -> list[ClaimedTask]:
        """Lease up to `limit` of the oldest open tasks of the channel to the worker, under
        `key`: only that key may act on them while the lease lasts."""
        channel = self._channels.get(claim.channel)
        if channel is None or channel.mode != "task":
            tasks = sorted(name for name, c in self._channels.items() if c.mode == "task")
            raise InvalidInput(
                f"{claim.channel!r} is not a task channel here; task channels: {', '.join(tasks)}",
                errors=[
                    {"loc": ["body", "channel"], "msg": "not a task channel", "type": "channel"}
                ],
            )
        assert key.id is not None  # a key that authenticated is stored
        now = self._clock.now()
        until = now + timedelta(seconds=claim.lease_seconds)
        touches = await LeaseStore(self._session).claim_tasks(
            claim.channel,
            claim.worker,
            key.id,
            claim.limit,
            until,
            now,
            content_budget=CLAIM_CONTENT_BUDGET,
        )
        ids = {t.contact_id for t in touches}
        contacts = {c.id: c for c in await self._contacts.many(ids) if c.id is not None}
        # What the contact refused since the task was queued is withdrawn, not handed out.
        stopped = await refused(self._session, touches, contacts, self._channels)
        await self._touches.record_outcomes(
            [withdrawn(touch, stopped[touch.id], now) for touch in touches if touch.id in stopped]
        )
        touches = [touch for touch in touches if touch.id not in stopped]
        history: dict[int, list[Touch]] = {}
        for past in await self._touches.latest_for_contacts(ids, _HISTORY + claim.limit):
            history.setdefault(past.contact_id, []).append(past)
        events: dict[int, list[Event]] = {}
        for event in await self._events.latest_for_contacts(ids, _HISTORY):
            events.setdefault(event.contact_id, []).append(event)
        claimed = {t.id for t in touches}
        return [
            ClaimedTask(
                touch=touch,
                contact=contacts[touch.contact_id],
                history=[p for p in history.get(touch.contact_id, []) if p.id not in claimed][
                    :_HISTORY
                ],
                events=events.get(touch.contact_id, []),
            )
            for touch in touches
        ]

    async def heartbeat(self, touch_id: int, beat: TaskHeartbeat, key: ApiKey) -> Touch:
        """Extend the lease of a task the worker holds under `key`."""
        touch, now = await self._held(touch_id, beat.worker, key)
        touch.lease_until = now + timedelta(seconds=beat.lease_seconds)
        touch.updated_at = now
        self._session.add(touch)
        return touch

    async def complete(self, touch_id: int, completion: TaskCompletion, key: ApiKey) -> Touch:
        """Close the task with its outcome: an event for the enrollments, consent for the log."""
        await self._lock_contact_of(touch_id)
        touch, now = await self._held(touch_id, completion.worker, key)
        channel = self._channels[touch.channel]
        outcomes = channel.outcomes
        if outcomes and completion.outcome not in outcomes:
            raise InvalidInput(
                f"{completion.outcome!r} is not an outcome of {touch.channel} tasks",
                errors=[
                    {
                        "loc": ["body", "outcome"],
                        "msg": f"one of {', '.join(sorted(outcomes))}",
                        "type": "outcome",
                    }
                ],
            )
        unknown = sorted(completion.consent.keys() - self._channels.keys())
        if unknown:
            raise InvalidInput(
                f"no channel {', '.join(unknown)}",
                errors=[
                    {"loc": ["body", "consent", n], "msg": "unknown channel", "type": "channel"}
                    for n in unknown
                ],
            )
        touch.status, touch.outcome, touch.completed_at = "completed", completion.outcome, now
        touch.outcome_data = {"data": completion.data, "notes": completion.notes}
        touch.lease_until, touch.updated_at = None, now
        self._session.add(touch)
        consent = dict(completion.consent)
        if completion.outcome in channel.opt_out_outcomes:
            consent[touch.channel] = "opted_out"
        await self._record_consent(touch, completion, consent, now)
        await self._record_preferences(touch, completion)
        await self._event_intake.record(
            contact_id=touch.contact_id,
            type=channel.outcome_event,
            data={
                **completion.data,
                "outcome": completion.outcome,
                "channel": touch.channel,
                "worker": completion.worker,
            },
            dedupe_key=f"task:{touch_id}",
            source="worker",
            touch_id=touch_id,
        )
        return touch

    async def fail(self, touch_id: int, failure: TaskFailure, key: ApiKey) -> Touch:
        """Give the task back to the queue, or fail it for good."""
        touch, now = await self._held(touch_id, failure.worker, key)
        touch.status = "queued" if failure.retry else "failed"
        if failure.retry:
            touch.worker, touch.claimed_by_key_id = None, None
        touch.lease_until, touch.error, touch.updated_at = None, failure.reason, now
        self._session.add(touch)
        return touch

    async def _lock_contact_of(self, touch_id: int) -> None:
        """Lock the task's contact before the task: the order of the dispatcher and of an
        erasure (contact, then touches), so completing, which writes consent, cannot
        deadlock with them."""
        touch = await self._touches.get(touch_id)
        if touch is not None:
            await self._contacts.get(touch.contact_id, lock=True)

    async def _held(self, touch_id: int, worker: str, key: ApiKey) -> tuple[Touch, datetime]:
        """The task, if `worker` holds a live lease on it under `key`; 404 or 409 otherwise.
        Another key gets 409 whatever worker name it sends, an admin key too: a lease is
        taken over only once it has run out."""
        touch = await self._touches.get(touch_id, lock=True)
        channel = self._channels.get(touch.channel) if touch else None
        if touch is None or channel is None or channel.mode != "task":
            raise NotFound(f"task {touch_id} does not exist")
        now = self._clock.now()
        if touch.status != "claimed" or touch.worker != worker:
            raise Conflict(f"task {touch_id} is not claimed by {worker!r} (it is {touch.status})")
        if touch.claimed_by_key_id != key.id:
            raise Conflict(f"task {touch_id} is leased under another API key")
        if touch.lease_until is None or touch.lease_until < now:
            raise Conflict(f"the lease on task {touch_id} has expired; claim it again")
        return touch, now

    async def _record_preferences(self, touch: Touch, completion: TaskCompletion) -> None:
        """The contact's wishes said on the call, logged with source `call` and the task."""
        if completion.preferences is None:
            return
        contact = await self._contacts.get(touch.contact_id)
        if contact is None:
            return  # erased meanwhile: nothing to record preferences for
        await PreferenceService(self._session, self._clock, self._channels).amend(
            contact,
            completion.preferences,
            source="call",
            evidence={"worker": completion.worker, "notes": completion.notes},
            touch_id=touch.id,
            location=("body", "preferences"),
        )

    async def _record_consent(
        self, touch: Touch, completion: TaskCompletion, consent: Mapping[str, str], now: datetime
    ) -> None:
        if not consent:
            return
        contact = await self._contacts.get(touch.contact_id)
        if contact is None:
            return  # erased meanwhile: nothing to record consent for
        evidence = {"touch_id": touch.id, "worker": completion.worker, "notes": completion.notes}
        for channel, status in consent.items():
            self._contacts.append_consent(
                ConsentLog(
                    contact_id=touch.contact_id,
                    channel=channel,
                    status=status,
                    source=f"{touch.channel} task",
                    evidence=evidence,
                    recorded_at=now,
                )
            )
            self._contacts.set_consent(contact, channel, status, now)
