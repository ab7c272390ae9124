"""Touches admitted earlier that may no longer go out: between admission and delivery (the
outbox sending, a worker claiming) the contact may have been erased, opted out, been
suppressed or lost the address. They are withdrawn (`canceled`) with the reason."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import Channel
from orchestrator.models import Touch
from orchestrator.policy_in_force import policy_in_force
from orchestrator.snapshots import ContactLike, address_hashes, snapshot, suppressed_channels
from orchestrator.store.suppressions import SuppressionStore
from orchestrator.store.touches import Withdrawal
from policies import Block, Candidate, ContactFacts
from policies.evaluate import permission_refused

__all__ = ["refused", "withdrawn"]


class _Contact(ContactLike, Protocol):
    @property
    def consent(self) -> dict[str, str]: ...
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
        facts = ContactFacts(
            contact.timezone,
            contact.consent,
            suppressed=suppressed_channels(contact, hashes[touch.contact_id], rows),
        )
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
