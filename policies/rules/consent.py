"""The checks that come before the rules: suppression, consent, a channel the contact
switched off, an address, and the contact's own pause."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from policies.decision import Block
from policies.explain import at_local
from policies.facts import Candidate, ContactFacts
from policies.model import Policy
from policies.rules.preference import switched_off

__all__ = ["Pause", "paused", "permission_refused"]


def permission_refused(candidate: Candidate, policy: Policy, contact: ContactFacts) -> Block | None:
    """The checks no touch gets past, whatever the clock says: suppression, consent, a
    channel the contact switched off, an address. (Checked again just before a queued
    message leaves: consent can change.)"""
    channel = candidate.channel
    if channel in contact.suppressed or "*" in contact.suppressed:
        return Block("suppression", f"The contact is suppressed on {channel}.")
    status = contact.consent.get(channel, "unknown")
    if status == "opted_out":
        return Block("consent", f"The contact opted out of {channel}.")
    marketing = candidate.category == "marketing"
    if marketing and policy.consent.get(channel) == "opt_in" and status != "opted_in":
        return Block("consent", f"{channel} needs the contact's opt-in, and there is none.")
    off = switched_off(candidate, contact)
    if off is not None:
        return off
    if candidate.address is None:
        return Block("address", f"The contact has no address for {channel}.")
    return None


class Pause(NamedTuple):
    """The contact's "do not disturb": until when, and the sentence that says so."""

    until: datetime
    reason: str


def paused(contact: ContactFacts, now: datetime) -> Pause | None:
    """The contact's pause if it still runs at `now` (it holds every marketing touch)."""
    if contact.paused_until is None or contact.paused_until <= now:
        return None
    until = contact.paused_until
    return Pause(
        until, f"The contact asked not to be disturbed until {at_local(until, contact.timezone)}"
    )
