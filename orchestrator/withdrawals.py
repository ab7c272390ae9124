"""Touches admitted earlier that may no longer go out: between admission and delivery (the
outbox sending, a worker claiming) the contact may have been erased, opted out, been
suppressed or lost the address. They are withdrawn (`canceled`) with the reason.

An unsubscribe, however it arrives (the one-click link, the page's button, a provider's
webhook), opts the contact out and withdraws its queued marketing touches at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import Channel
from orchestrator.models import ConsentLog, Contact, Touch
from orchestrator.policy_in_force import policy_in_force
from orchestrator.snapshots import (
    FactsSource,
    address_hashes,
    contact_facts,
    snapshot,
    suppressed_channels,
)
from orchestrator.store.contacts import ContactStore
from orchestrator.store.suppressions import SuppressionStore
from orchestrator.store.touches import TouchStore, Withdrawal
from policies import Block, Candidate
from policies.evaluate import permission_refused

__all__ = ["Unsubscribe", "refused", "unsubscribe", "withdrawn"]


class _Contact(FactsSource, Protocol):
    @property
    def erased_at(self) -> datetime | None: ...


async def refused(
    session: AsyncSession,
    touches: Iterable[Touch],
    contacts: Mapping[int, _Contact],
    channels: Mapping[str, Channel],
) -> dict[int | None, Block]:
    """The touches (by id) that may no longer go, with the check that stops each."""
    policy = (await policy_in_force(session)).policy
    hashes = {cid: address_hashes(contact) for cid, contact in contacts.items()}
    every_hash = {h for found in hashes.values() for hs in found.values() for h in hs}
    rows = await SuppressionStore(session).matching(list(contacts), every_hash)
    stopped: dict[int | None, Block] = {}
    for touch in touches:
        contact = contacts[touch.contact_id]
        if contact.erased_at is not None:
            stopped[touch.id] = Block("erased", "The contact was erased.")
            continue
        facts = contact_facts(contact, suppressed_channels(contact, hashes[touch.contact_id], rows))
        candidate = Candidate(
            touch.channel,
            "transactional" if touch.category == "transactional" else "marketing",
            channels[touch.channel].address(snapshot(contact), touch.content),
        )
        block = permission_refused(candidate, policy, facts)
        if block is not None:
            stopped[touch.id] = block
    return stopped


def withdrawn(touch: Touch, block: Block, now: datetime) -> Withdrawal:
    """The row update of a touch that may no longer go: canceled, with the reason."""
    assert touch.id is not None
    return {
        "id": touch.id,
        "status": "canceled",
        "worker": None,
        "rule": block.rule,
        "reason": f"Withdrawn before it went out: {block.reason}",
        "lease_until": None,
        "updated_at": now,
    }


@dataclass(frozen=True)
class Unsubscribe:
    """A contact's wish to hear no more on a channel: where it came from, and the proof."""

    contact: Contact
    source: str
    evidence: dict[str, Any]


async def unsubscribe(
    session: AsyncSession, channel: str, unsubscribes: Sequence[Unsubscribe], now: datetime
) -> None:
    """Opt each contact out of `channel` in the consent log (unless it is out already), and
    withdraw the contacts' queued marketing touches on the channel."""
    contacts = ContactStore(session)
    for wish in unsubscribes:
        assert wish.contact.id is not None
        if wish.contact.consent.get(channel) == "opted_out":
            continue
        contacts.append_consent(
            ConsentLog(
                contact_id=wish.contact.id,
                channel=channel,
                status="opted_out",
                source=wish.source,
                evidence=wish.evidence,
                recorded_at=now,
            )
        )
        contacts.set_consent(wish.contact, channel, "opted_out", now)
    # The contact rows are written before the touches are withdrawn: a dispatcher admitting a
    # touch for one of them holds its row, so the write waits for that touch to be committed
    # and the withdrawal below sees it; a dispatcher coming later sees the opt-out.
    await session.flush()
    touches = TouchStore(session)
    await touches.cancel_queued_marketing(
        {wish.contact.id for wish in unsubscribes if wish.contact.id},
        channel,
        "consent",
        "Withdrawn before it went out: the contact unsubscribed.",
        now,
    )
