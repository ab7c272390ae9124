"""The outbox: queued touches of `send` channels (email, SNS in webhook mode) go out after
the dispatcher's transaction. A batch is claimed (`claimed`, with a lease that gives it back
to the queue), and each touch is marked `sending` only once it holds one of the
`concurrency` delivery slots, right before its adapter is called; it keeps the slot until its
outcome is stored. So a crash leaves at most `concurrency` touches `sending` (later
`in_doubt`), and the rest of the batch is claimed again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, cast

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from channels.base import (
    Channel,
    ContactSnapshot,
    Delivery,
    DeliveryResult,
    PermanentError,
    TransientError,
)
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import Clock
from orchestrator.contact_fields import address_hash
from orchestrator.delivery_health import DeliveryHealth
from orchestrator.models import Suppression, Touch
from orchestrator.services.events import EventService
from orchestrator.snapshots import snapshot
from orchestrator.store.contacts import ContactRecord, ContactStore
from orchestrator.store.suppressions import SuppressionStore
from orchestrator.store.touches import DeliveryOutcome, TouchStore
from orchestrator.tracking import LinkMaker
from orchestrator.withdrawals import refused, withdrawn

__all__ = ["Outbox"]

#: Attempts before a transiently failing touch fails for good, and the longest wait between.
MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class _Outcome:
    touch: Touch
    result: DeliveryResult | None = None
    transient: str | None = None
    permanent: PermanentError | None = None
    #: The contact as the adapter saw it: the address a hard bounce declares dead.
    contact: ContactSnapshot | None = None


_Write = Callable[[list[Touch], list[_Outcome]], Awaitable[set[int]]]


class _GroupWriter:
    """Stores the status changes of the touches in flight a group at a time (a group
    commit): those about to be delivered become `sending`, finished ones get their outcome,
    in one transaction for everything that arrived while the previous one was written."""

    def __init__(self, write: _Write) -> None:
        self._write = write
        self._lock = asyncio.Lock()
        self._starts: list[Touch] = []
        self._outcomes: list[_Outcome] = []
        self._waiting: list[asyncio.Future[set[int]]] = []

    async def submit(self, *, start: Touch | None = None, outcome: _Outcome | None = None) -> bool:
        """Store the change; for a start, whether the touch is still this sender's."""
        future: asyncio.Future[set[int]] = asyncio.get_running_loop().create_future()
        if start is not None:
            self._starts.append(start)
        if outcome is not None:
            self._outcomes.append(outcome)
        self._waiting.append(future)
        async with self._lock:
            if not future.done():
                starts, outcomes, waiting = self._starts, self._outcomes, self._waiting
                self._starts, self._outcomes, self._waiting = [], [], []
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
    delivery carries the tracked links of its touch."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        channels: Mapping[str, Channel],
        catalog: CampaignCatalog,
        *,
        batch_size: int = 32,
        concurrency: int = 8,
        lease: timedelta = timedelta(minutes=30),
        claim_lease: timedelta = timedelta(minutes=5),
        quick_retries: int = 2,
        links: LinkMaker | None = None,
        health: DeliveryHealth | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._channels = channels
        self._catalog = catalog
        self._batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)
        self._lease = lease
        self._claim_lease = claim_lease
        self._quick_retries = quick_retries
        self._links = links
        self._health = DeliveryHealth() if health is None else health
        self._writer = _GroupWriter(self._write)

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
            batch = await TouchStore(session).claim_outbox(
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
        await asyncio.gather(
            *(
                self._deliver(touch, contacts[touch.contact_id])
                for touch in batch
                if touch.id not in stopped
            )
        )
        return len(batch)

    async def _write(self, starts: list[Touch], outcomes: list[_Outcome]) -> set[int]:
        """One transaction: store the outcomes, then mark the starts `sending`; the ids of
        the starts still held by this sender's claim."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            await self._record(session, outcomes, now)
            return await TouchStore(session).start_sending(starts, now + self._lease, now)

    async def _deliver(self, touch: Touch, contact: ContactRecord) -> None:
        """Deliver in a slot: `sending` first, the outcome stored before the slot is free."""
        async with self._slots:
            if not await self._writer.submit(start=touch):
                return  # the claim expired and another sender may have the touch now
            outcome = await self._attempt(touch, contact)
            if outcome.transient is not None:
                self._health.failed(touch.channel, outcome.transient, self._clock.now())
            else:
                accepted = outcome.result is not None
                self._health.settled(touch.channel, self._clock.now(), accepted=accepted)
            await self._writer.submit(outcome=outcome)

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
                with attempt:
                    return _Outcome(touch, result=await channel.deliver(delivery))
        except TransientError as exc:
            return _Outcome(touch, transient=str(exc))
        except PermanentError as exc:
            return _Outcome(touch, permanent=exc, contact=delivery.contact)
        raise AssertionError("tenacity either returns or re-raises")

    async def _record(self, session: AsyncSession, outcomes: list[_Outcome], now: datetime) -> None:
        if not outcomes:
            return
        rows: list[DeliveryOutcome] = []
        for outcome in outcomes:
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
                row.update(
                    {"status": "queued", "retry_at": now + backoff, "error": outcome.transient}
                )
            else:
                error = outcome.transient or str(outcome.permanent)
                row.update({"status": "failed", "error": error})
                if outcome.permanent is not None and outcome.permanent.address_rejected:
                    assert outcome.contact is not None
                    await self._hard_bounce(session, outcome.permanent, outcome.contact, touch, now)
            rows.append(row)
        await TouchStore(session).record_outcomes(rows)

    async def _hard_bounce(
        self,
        session: AsyncSession,
        error: PermanentError,
        contact: ContactSnapshot,
        touch: Touch,
        now: datetime,
    ) -> None:
        """A dead address: suppress it on the channel, under the keys the channel gives for
        the failure, and tell the enrollments (a `bounce`)."""
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
