"""The outbox: queued touches of `send` channels (email, SNS in webhook mode) go out after
the dispatcher's transaction. A batch is claimed (`claimed`, with a lease that gives it back
to the queue), and each touch is marked `sending` only once it holds one of the
`concurrency` delivery slots, right before its adapter is called; the slot's next touch is
marked in the write that stores its outcome. So a crash leaves at most `concurrency` touches
`sending` (later `in_doubt`), and the rest of the batch is claimed again."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Literal, cast

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from channels.base import (
    Channel,
    ContactSnapshot,
    Delivery,
    DeliveryInDoubt,
    DeliveryResult,
    PermanentError,
    TransientError,
)
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import Clock
from orchestrator.contact_fields import address_hash
from orchestrator.delivery_health import DeliveryHealth
from orchestrator.engine_metrics import observe_delivery
from orchestrator.models import Suppression, Touch
from orchestrator.services.events import EventService
from orchestrator.snapshots import snapshot
from orchestrator.store.contacts import ContactRecord, ContactStore
from orchestrator.store.dialect import is_postgresql
from orchestrator.store.leases import DeliveryOutcome, LeaseStore
from orchestrator.store.suppressions import SuppressionStore
from orchestrator.store.touches import TouchStore
from orchestrator.tracking import LinkMaker
from orchestrator.withdrawals import refused, withdrawn

__all__ = ["Outbox"]

#: Attempts before a transiently failing touch fails for good, and the longest wait between.
MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=1)
#: How long a status write waits for the other lanes' changes: about one SMTP transaction.
GROUP_LINGER = 0.005


@dataclass(frozen=True)
class _Outcome:
    touch: Touch
    result: DeliveryResult | None = None
    transient: str | None = None
    permanent: PermanentError | None = None
    #: Why the far end may or may not have taken it: never sent again by itself.
    in_doubt: str | None = None
    #: The contact as the adapter saw it: the address a hard bounce declares dead.
    contact: ContactSnapshot | None = None


def _unobserved(_channel: str) -> AbstractContextManager[None]:
    return nullcontext()


_Write = Callable[[list[Touch], list[_Outcome]], Awaitable[set[int]]]


class _GroupWriter:
    """Stores the status changes of the touches in flight a group at a time (a group
    commit): those about to be delivered become `sending`, finished ones get their outcome.

    A write waits, for at most `linger` seconds, until every lane still at work has
    something to store, so the lanes move in step and a pass costs about one write for
    every `lanes` touches; a lane held up by a slow relay delays the others by `linger`."""

    def __init__(self, write: _Write, lanes: int, linger: float) -> None:
        self._write = write
        self._lanes = lanes
        self._linger = linger
        self._lock = asyncio.Lock()
        self._everyone = asyncio.Event()
        self._starts: list[Touch] = []
        self._outcomes: list[_Outcome] = []
        self._waiting: list[asyncio.Future[set[int]]] = []

    def leave(self) -> None:
        """A lane is done: the others no longer wait for it."""
        self._lanes -= 1
        self._count()

    def _count(self) -> None:
        if len(self._waiting) >= self._lanes:
            self._everyone.set()

    async def submit(self, *, start: Touch | None = None, outcome: _Outcome | None = None) -> bool:
        """Store the change; for a start, whether the touch is still this sender's."""
        future: asyncio.Future[set[int]] = asyncio.get_running_loop().create_future()
        if start is not None:
            self._starts.append(start)
        if outcome is not None:
            self._outcomes.append(outcome)
        self._waiting.append(future)
        self._count()
        async with self._lock:
            if not future.done():
                with suppress(TimeoutError):
                    async with asyncio.timeout(self._linger):
                        await self._everyone.wait()
                starts, outcomes, waiting = self._starts, self._outcomes, self._waiting
                self._starts, self._outcomes, self._waiting = [], [], []
                self._everyone.clear()
                try:
                    started = await self._write(starts, outcomes)
                except Exception as exc:
                    for each in waiting:
                        each.set_exception(exc)
                except BaseException:
                    for each in waiting:
                        each.cancel()
                    raise
                else:
                    for each in waiting:
                        each.set_result(started)
        return start is not None and start.id in await future


class Outbox:
    """Delivers queued touches of `send` channels, a batch at a time; with `links`, each
    delivery carries the tracked links of its touch. An `observed` outbox (the live one, not
    a forecast's) times each delivery attempt and counts its failures in the metrics."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        channels: Mapping[str, Channel],
        catalog: CampaignCatalog,
        *,
        batch_size: int = 128,
        concurrency: int = 8,
        lease: timedelta = timedelta(minutes=30),
        claim_lease: timedelta = timedelta(minutes=5),
        quick_retries: int = 2,
        links: LinkMaker | None = None,
        health: DeliveryHealth | None = None,
        observed: bool = False,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._channels = channels
        self._catalog = catalog
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._lease = lease
        self._claim_lease = claim_lease
        self._quick_retries = quick_retries
        self._links = links
        self._health = DeliveryHealth() if health is None else health
        self._observed = observe_delivery if observed else _unobserved

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def health(self) -> DeliveryHealth:
        """How each channel's far end answered lately."""
        return self._health

    async def run_once(self) -> int:
        """Send one batch; how many touches were taken from the queue."""
        now = self._clock.now()
        senders = [name for name, channel in self._channels.items() if channel.mode == "send"]
        async with self._sessions.begin() as session:
            batch = await LeaseStore(session).claim_outbox(
                senders, self._batch_size, now + self._claim_lease, now
            )
            if not batch:
                return 0
            contacts = {
                c.id: c for c in await ContactStore(session).records({t.contact_id for t in batch})
            }
            stopped = await refused(session, batch, contacts, self._channels)
            await TouchStore(session).record_outcomes(
                [withdrawn(touch, stopped[touch.id], now) for touch in batch if touch.id in stopped]
            )
        queue = deque(touch for touch in batch if touch.id not in stopped)
        lanes = min(self._concurrency, len(queue))
        async with self._autocommit() as status:
            writer = _GroupWriter(partial(self._write, status), lanes, GROUP_LINGER)
            # A lane that fails (the database went away) stops the others: a message they
            # are sending stays `sending`, in doubt, and the rest of the batch is claimed again.
            async with asyncio.TaskGroup() as group:
                for _ in range(lanes):
                    group.create_task(self._lane(writer, queue, contacts))
        return len(batch)

    @asynccontextmanager
    async def _autocommit(self) -> AsyncIterator[AsyncSession | None]:
        """On PostgreSQL, a session for a pass's status writes whose connection commits each
        statement by itself: a write is one statement, so it costs one round trip instead of
        four (the pool's check of the connection, BEGIN, the statement, COMMIT). None on
        SQLite, where each write is a transaction of the single writer."""
        async with self._sessions() as session:
            if not is_postgresql(session):
                yield None
                return
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session

    async def _write(
        self, status: AsyncSession | None, starts: list[Touch], outcomes: list[_Outcome]
    ) -> set[int]:
        """Store the outcomes and mark the starts `sending`, at once; the ids of the starts
        still held by this sender's claim. A dead address is suppressed first, in a
        transaction of its own: if the status write is then lost, the touch stays in doubt."""
        now = self._clock.now()
        rejected = [o for o in outcomes if o.permanent is not None and o.permanent.address_rejected]
        if rejected:
            async with self._sessions.begin() as session:
                for outcome in rejected:
                    await self._hard_bounce(session, outcome, now)
        rows = [self._row(outcome, now) for outcome in outcomes]
        lease_until = now + self._lease
        if status is not None:
            return await LeaseStore(status).settle_and_start(rows, starts, lease_until, now)
        async with self._sessions.begin() as session:
            return await LeaseStore(session).settle_and_start(rows, starts, lease_until, now)

    async def _lane(
        self, writer: _GroupWriter, queue: deque[Touch], contacts: Mapping[int, ContactRecord]
    ) -> None:
        """One delivery slot working through the batch: a touch is marked `sending` in the
        write that stores the outcome of the one before it, so the slot holds at most one
        touch `sending` at any moment."""
        finished: _Outcome | None = None
        async with self._slots:
            try:
                while queue:
                    touch = queue.popleft()
                    held = await writer.submit(start=touch, outcome=finished)
                    finished = None
                    if not held:
                        continue  # the claim expired; another sender may have the touch now
                    finished = await self._attempt(touch, contacts[touch.contact_id])
                    self._note_health(finished)
                if finished is not None:
                    await writer.submit(outcome=finished)
            finally:
                writer.leave()

    def _note_health(self, outcome: _Outcome) -> None:
        channel, now = outcome.touch.channel, self._clock.now()
        if outcome.transient is not None or outcome.in_doubt is not None:
            self._health.failed(channel, outcome.transient or outcome.in_doubt or "", now)
        else:
            self._health.settled(channel, now, accepted=outcome.result is not None)

    async def _attempt(self, touch: Touch, contact: ContactRecord) -> _Outcome:
        assert touch.id is not None
        delivery = Delivery(
            touch_id=touch.id,
            idempotency_key=touch.idempotency_key,
            channel=touch.channel,
            category=cast(Literal["marketing", "transactional"], touch.category),
            contact=snapshot(contact),
            content=touch.content,
            campaign_id=touch.campaign_id,
            step_id=touch.step_id,
            links=None if self._links is None else self._links.for_touch(touch.id),
        )
        channel = self._channels[touch.channel]
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self._quick_retries + 1),
            wait=wait_exponential(multiplier=0.2, max=2),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt, self._observed(touch.channel):
                    return _Outcome(touch, result=await channel.deliver(delivery))
        except TransientError as exc:
            return _Outcome(touch, transient=str(exc))
        except PermanentError as exc:
            return _Outcome(touch, permanent=exc, contact=delivery.contact)
        except DeliveryInDoubt as exc:
            return _Outcome(touch, in_doubt=str(exc))
        raise AssertionError("tenacity either returns or re-raises")

    def _row(self, outcome: _Outcome, now: datetime) -> DeliveryOutcome:
        """The touch's columns once delivered, given back for a retry, in doubt, or failed."""
        touch = outcome.touch
        assert touch.id is not None
        row: DeliveryOutcome = {
            "id": touch.id,
            "status": "sent",
            "message_id": touch.message_id,
            "outcome_data": touch.outcome_data,
            "sent_at": touch.sent_at,
            "retry_at": None,
            "lease_until": None,
            "error": None,
            "updated_at": now,
        }
        if outcome.result is not None:
            detail = dict(outcome.result.detail) or None  # what the far end answered
            message_id = outcome.result.message_id
            row.update(
                {
                    "message_id": message_id and message_id[:255],
                    "sent_at": now,
                    "outcome_data": detail,
                }
            )
        elif outcome.transient is not None and touch.attempts < MAX_ATTEMPTS:
            backoff = min(timedelta(minutes=2 ** (touch.attempts - 1)), MAX_BACKOFF)
            row.update({"status": "queued", "retry_at": now + backoff, "error": outcome.transient})
        elif outcome.in_doubt is not None:
            row.update({"status": "in_doubt", "error": outcome.in_doubt})
        else:
            row.update({"status": "failed", "error": outcome.transient or str(outcome.permanent)})
        return row

    async def _hard_bounce(self, session: AsyncSession, outcome: _Outcome, now: datetime) -> None:
        """A dead address: suppress it on the channel, under the keys the channel gives for
        the failure, and tell the enrollments (a `bounce`)."""
        touch, error, contact = outcome.touch, outcome.permanent, outcome.contact
        assert error is not None
        assert contact is not None
        keys = self._channels[touch.channel].rejected_keys(error, contact, touch.content)
        await SuppressionStore(session).add_many(
            [
                Suppression(
                    channel=touch.channel,
                    address_hash=address_hash(touch.channel, key),
                    reason="hard_bounce",
                    source=f"touch {touch.id}",
                    created_at=now,
                )
                for key in sorted(keys)
            ]
        )
        assert touch.id is not None
        await EventService(session, self._clock, self._catalog).record(
            contact_id=touch.contact_id,
            type="bounce",
            data={"bounce_type": "hard", "channel": touch.channel, "error": str(error)},
            dedupe_key=f"bounce:{touch.id}",
            source="outbox",
            touch_id=touch.id,
        )
