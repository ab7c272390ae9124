"""Email events from providers: each taken in once, matched to its touch, and acted on."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import ContactSnapshot
from channels.email.providers import ProviderEvent, Verified
from channels.registry import channel_class
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import Clock
from orchestrator.contact_fields import address_hash, normalize_email
from orchestrator.errors import Unauthenticated
from orchestrator.models import Suppression
from orchestrator.services.events import EventService, NewEvent
from orchestrator.store.contacts import ContactStore
from orchestrator.store.suppressions import SuppressionStore
from orchestrator.store.webhooks import TouchRef, WebhookStore
from orchestrator.withdrawals import Unsubscribe, unsubscribe

__all__ = ["EmailEventService", "Intake"]

_log = logging.getLogger("kizuna.webhooks")


@dataclass(frozen=True)
class Intake:
    """What a request brought: events taken in, and redeliveries of known ones."""

    accepted: int
    duplicates: int
    woken: int


class EmailEventService:
    """Provider events in one unit of work: the caller commits (and then wakes the dispatcher).

    `channel` is the channel the providers report on; `soft_bounce_limit` soft bounces in a
    row, with no delivery between them, suppress the address.
    """

    def __init__(
        self,
        session: AsyncSession,
        clock: Clock,
        catalog: CampaignCatalog,
        *,
        channel: str,
        soft_bounce_limit: int,
    ) -> None:
        self._session = session
        self._clock = clock
        self._events = EventService(session, clock, catalog)
        self._store = WebhookStore(session)
        self._contacts = ContactStore(session)
        self._channel = channel
        self._channel_class = channel_class(channel)
        self._soft_bounce_limit = soft_bounce_limit

    async def take_in(self, provider: str, verified: Verified) -> Intake:
        """Store each new event, suppress or opt out as it says; a replayed one-time token
        is Unauthenticated and nothing is kept."""
        now = self._clock.now()
        if verified.subscribe_url is not None:
            _log.warning(
                "SNS asks to confirm the subscription to %s: open %s",
                verified.topic,
                verified.subscribe_url,
            )
        if verified.replay_token is not None:
            token_key = _digest("token", verified.replay_token)
            if not await self._store.take_receipts(provider, [token_key], now):
                raise Unauthenticated("this webhook's token was used before")
        address_keys: dict[str, str | None] = {}
        for e in verified.events:
            if e.email not in address_keys:
                address_keys[e.email] = self._address_key(e.email)
        by_key = {
            _digest(e.event_id, e.type, address_keys[e.email] or e.email): e
            for e in verified.events
        }
        new_keys = await self._store.take_receipts(provider, list(by_key), now)
        fresh = [(key, event) for key, event in by_key.items() if key in new_keys]
        touches = await self._touches(event for _, event in fresh)
        contacts = await self._contacts_by_address(
            [e.email for _, e in fresh], {t.contact_id for t in touches.values()}
        )
        events: list[NewEvent] = []
        opted_out: dict[int, dict[str, Any]] = {}
        suppressions: list[Suppression] = []
        soft_bounced: dict[int, str] = {}
        for key, event in fresh:
            address = address_keys[event.email]
            for contact_id, touch in self._targets(event, address, touches, contacts):
                touch_id = touch.id if touch is not None else None
                events.append(
                    NewEvent(
                        contact_id=contact_id,
                        type=event.type,
                        data=_event_data(provider, event),
                        dedupe_key=f"webhook:{provider}:{key}:{contact_id}",
                        source=f"webhook:{provider}",
                        occurred_at=event.occurred_at,
                        touch_id=touch_id,
                    )
                )
                if event.type == "unsubscribe":
                    opted_out.setdefault(contact_id, _evidence(provider, event, touch_id))
                if event.bounce_type == "soft" and address is not None:
                    soft_bounced[contact_id] = address
            if address is not None and (event.type == "complaint" or event.bounce_type == "hard"):
                reason = "complaint" if event.type == "complaint" else "hard_bounce"
                suppressions.append(self._suppression(address, reason, provider, now))
        await self._unsubscribe(opted_out, provider, now)
        recorded = await self._events.record_many(events)
        suppressions += await self._soft_bounce_streaks(soft_bounced, provider, now)
        # In one order, as the receipts: concurrent requests never wait on each other in a cycle.
        suppressions.sort(key=lambda s: s.address_hash or "")
        await SuppressionStore(self._session).add_many(suppressions)
        return Intake(len(fresh), len(verified.events) - len(fresh), recorded.woken)

    def _address_key(self, email: str) -> str | None:
        """The key the channel stores a suppression of this address under."""
        return self._channel_class.suppression_key(_bare_contact(email), {})

    async def _touches(self, events: Iterable[ProviderEvent]) -> dict[str, TouchRef]:
        """The touches the events name, by their Message-ID."""
        message_ids = {e.message_id for e in events if e.message_id is not None}
        # Our Message-ID is `<key with ':' as '.'@domain>`; its key finds a touch whose send
        # is not recorded yet.
        keys = {m[1:-1].rpartition("@")[0].replace(".", ":"): m for m in message_ids}
        found = await self._store.touches_by_message_id(self._channel, message_ids, keys)
        by_id: dict[str, TouchRef] = {}
        for touch in found:
            message_id = touch.message_id if touch.message_id in message_ids else None
            by_id[message_id or keys[touch.idempotency_key]] = touch
        return by_id

    async def _contacts_by_address(
        self, emails: list[str], contact_ids: set[int]
    ) -> dict[str, list[int]]:
        """Live contacts by address key: those the touches went to, and those with the
        events' addresses (one query)."""
        spellings: set[str] = set()
        for email in emails:
            spellings |= {email.strip(), email.strip().lower()}
            try:
                spellings.add(normalize_email(email.strip()))
            except ValueError:
                pass  # no valid address: found, if at all, as the provider spells it
        by_address: dict[str, list[int]] = {}
        for contact_id, known in await self._store.contacts_by_id_or_email(contact_ids, spellings):
            key = self._address_key(known) if known is not None else None
            if key is not None:
                by_address.setdefault(key, []).append(contact_id)
        return by_address

    @staticmethod
    def _targets(
        event: ProviderEvent,
        address: str | None,
        touches: dict[str, TouchRef],
        contacts: dict[str, list[int]],
    ) -> list[tuple[int, TouchRef | None]]:
        """Whom the event concerns (contact ids): the contact of its touch when the touch
        went to this address, else every contact with the address (none, for an address
        Kizuna does not know)."""
        if address is None:
            return []
        reached = contacts.get(address, [])
        touch = touches.get(event.message_id) if event.message_id is not None else None
        if touch is not None and touch.contact_id in reached:
            return [(touch.contact_id, touch)]
        return [(contact_id, None) for contact_id in reached]

    async def _unsubscribe(
        self, evidence: dict[int, dict[str, Any]], provider: str, now: datetime
    ) -> None:
        """Opt the contacts out, as a one-click unsubscribe does (`evidence` by contact id)."""
        if not evidence:
            return
        wishes = [
            Unsubscribe(contact, f"{provider} webhook", evidence[contact.id])
            for contact in await self._contacts.many(evidence)
            if contact.id is not None
        ]
        await unsubscribe(self._session, self._channel, wishes, now)

    async def _soft_bounce_streaks(
        self, addresses: dict[int, str], provider: str, now: datetime
    ) -> list[Suppression]:
        """Suppressions of the addresses (by contact id) whose last `soft_bounce_limit`
        outcomes (deliveries and bounces) are all soft bounces."""
        limit = self._soft_bounce_limit
        latest = await self._store.latest_outcomes(addresses, ("delivered", "bounce"), limit)
        suppressions = []
        for contact_id, events in latest.items():
            streak = [
                e for e in events if e.type == "bounce" and e.data.get("bounce_type") == "soft"
            ]
            if len(streak) == limit:
                address = addresses[contact_id]
                suppressions.append(self._suppression(address, "soft_bounces", provider, now))
        return suppressions

    def _suppression(self, address: str, reason: str, provider: str, now: datetime) -> Suppression:
        return Suppression(
            channel=self._channel,
            address_hash=address_hash(self._channel, address),
            reason=reason,
            source=f"{provider} webhook",
            created_at=now,
        )


def _bare_contact(email: str) -> ContactSnapshot:
    """A contact known only by an address, for asking the channel about the address."""
    return ContactSnapshot(
        id=0,
        external_id=None,
        email=email,
        phone=None,
        address=None,
        social={},
        timezone="UTC",
        locale=None,
        attributes={},
    )


def _evidence(provider: str, event: ProviderEvent, touch_id: int | None) -> dict[str, Any]:
    """What proves a provider's unsubscribe: the report and the mail it concerns."""
    return {
        "provider": provider,
        "event_id": event.event_id,
        "message_id": event.message_id,
        "touch_id": touch_id,
        "occurred_at": event.occurred_at.isoformat() if event.occurred_at else None,
    }


def _event_data(provider: str, event: ProviderEvent) -> dict[str, Any]:
    data: dict[str, Any] = {
        "provider": provider,
        "message_id": event.message_id,
        "bounce_type": event.bounce_type,
        "url": event.url,
        **event.detail,
    }
    return {name: value for name, value in data.items() if value is not None}


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
