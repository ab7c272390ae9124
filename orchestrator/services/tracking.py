"""What a contact does with a message: clicks its tracked links, opens it, unsubscribes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import Clock
from orchestrator.errors import NotFound
from orchestrator.models import Contact, Touch
from orchestrator.services.events import EventService, Recorded
from orchestrator.store.contacts import ContactStore
from orchestrator.store.touches import TouchStore
from orchestrator.tracking import Purpose, TokenSigner
from orchestrator.withdrawals import Unsubscribe, unsubscribe

__all__ = ["BOT_DELAY", "DEDUPE_WINDOW", "Click", "TrackingService"]

#: A click or open this soon after the message went out (or before its sending was even
#: recorded) comes from a link scanner at the receiving end, not from the person.
BOT_DELAY = timedelta(seconds=1)
#: Clicks (opens) of one touch within one window of this length are one click (open).
DEDUPE_WINDOW = 10


@dataclass(frozen=True)
class Click:
    """Where a tracked link leads, and the event its click became."""

    target: str
    recorded: Recorded


class TrackingService:
    """Clicks, opens and unsubscribes of the touches of one channel, in one unit of work.

    `channel` is the channel whose touches carry the tokens, and `links` reads the targets
    of a touch's tracked links back from its rendered content, numbered as they were
    rewritten.
    """

    def __init__(
        self,
        session: AsyncSession,
        clock: Clock,
        catalog: CampaignCatalog,
        tokens: TokenSigner,
        *,
        channel: str,
        links: Callable[[Mapping[str, str]], list[str]],
    ) -> None:
        self._session = session
        self._clock = clock
        self._tokens = tokens
        self._channel = channel
        self._links = links
        self._events = EventService(session, clock, catalog)

    async def click(self, token: str) -> Click:
        """Record a click of the link the token names; where the link leads."""
        touch, link = await self._touch("click", token)
        targets = self._links(touch.content)  # gone with the contact's erasure
        if link is None or link >= len(targets):
            raise NotFound("no such link")
        recorded = await self._record(touch, "click", {"link": link, "url": targets[link]})
        return Click(targets[link], recorded)

    async def open(self, token: str) -> Recorded:
        """Record that the message of the token's touch was opened (its pixel loaded)."""
        touch, _ = await self._touch("open", token)
        await self._contact(touch)
        return await self._record(touch, "open", {})

    async def check_unsubscribe(self, token: str) -> None:
        """NotFound unless the token is a valid unsubscribe token of a known contact."""
        touch, _ = await self._touch("unsubscribe", token)
        await self._contact(touch)

    async def unsubscribe(
        self, token: str, source: Literal["one-click", "unsubscribe_page"]
    ) -> Recorded:
        """Opt the token's contact out of the channel, with the touch as evidence, withdraw
        the contact's queued marketing touches on it, and record an `unsubscribe` event
        (once per touch)."""
        touch, _ = await self._touch("unsubscribe", token)
        # Locked as a dispatcher's claim locks it: no touch is admitted while this runs.
        contact = await self._contact(touch, lock=True)
        now = self._clock.now()
        evidence = {"at": now.isoformat(), "touch_id": touch.id}
        await unsubscribe(
            self._session, self._channel, [Unsubscribe(contact, source, evidence)], now
        )
        return await self._events.record(
            contact_id=touch.contact_id,
            type="unsubscribe",
            data={"source": source},
            dedupe_key=f"unsubscribe:{touch.id}",
            source="tracking",
            occurred_at=now,
            touch_id=touch.id,
        )

    async def _touch(self, purpose: Purpose, token: str) -> tuple[Touch, int | None]:
        tracked = self._tokens.read(purpose, token)
        touch = None if tracked is None else await TouchStore(self._session).get(tracked.touch_id)
        if tracked is None or touch is None or touch.channel != self._channel:
            raise NotFound("no such link")
        return touch, tracked.link

    async def _contact(self, touch: Touch, *, lock: bool = False) -> Contact:
        contact = await ContactStore(self._session).get(touch.contact_id, lock=lock)
        if contact is None:  # erased
            raise NotFound("no such link")
        return contact

    async def _record(self, touch: Touch, kind: str, data: dict[str, object]) -> Recorded:
        """The event, flagged `suspected_bot` when it came too soon after the send, and
        stored once per touch, kind and window (a reload is not a second click)."""
        assert touch.id is not None
        now = self._clock.now()
        bot = touch.sent_at is None or now < touch.sent_at + BOT_DELAY
        window = int(now.timestamp()) // DEDUPE_WINDOW
        return await self._events.record(
            contact_id=touch.contact_id,
            type=kind,
            data={**data, "suspected_bot": bot},
            dedupe_key=f"{kind}:{touch.id}:{window}{':bot' if bot else ''}",
            source="tracking",
            occurred_at=now,
            touch_id=touch.id,
        )
