"""The decision for one candidate touch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from policies.decision import Allow, Block, Decision, Defer
from policies.explain import at_local
from policies.facts import Candidate, ContactFacts, PastTouch
from policies.model import Policy

__all__ = ["evaluate"]


def evaluate(
    candidate: Candidate,
    history: Sequence[PastTouch],
    policy: Policy,
    contact: ContactFacts,
    now: datetime,
) -> Decision:
    """Allow, defer or block `candidate`, with the rule and a sentence that explain it.

    The built-in checks come first (suppression, consent, a missing address, a pause);
    a transactional touch is held back only by suppression and an explicit opt-out.
    """
    channel = candidate.channel
    if channel in contact.suppressed or "*" in contact.suppressed:
        return Block("suppression", f"The contact is suppressed on {channel}.")
    status = contact.consent.get(channel, "unknown")
    if status == "opted_out":
        return Block("consent", f"The contact opted out of {channel}.")
    marketing = candidate.category == "marketing"
    if marketing and policy.consent.get(channel) == "opt_in" and status != "opted_in":
        return Block("consent", f"{channel} needs the contact's opt-in, and there is none.")
    if candidate.address is None:
        return Block("address", f"The contact has no address for {channel}.")
    if marketing and contact.paused_until is not None and contact.paused_until > now:
        until = contact.paused_until
        reason = f"The contact asked not to be disturbed until {at_local(until, contact.timezone)}."
        return _defer_or_block(candidate, until, "paused", reason, contact.timezone)
    return Allow()


def _defer_or_block(
    candidate: Candidate, until: datetime, rule: str, reason: str, timezone: str
) -> Decision:
    if candidate.deadline is not None and until > candidate.deadline:
        limit = at_local(candidate.deadline, timezone)
        return Block(rule, f"{reason} That is past the step's last moment ({limit}).")
    return Defer(until, rule, reason)
