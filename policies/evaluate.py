"""The decision for one candidate touch: allow, defer until an exact instant, or block."""

from __future__ import annotations

from datetime import datetime, timedelta

from policies.decision import Allow, Block, Decision, Defer
from policies.explain import at_local, explain_rule
from policies.facts import Candidate, ContactFacts
from policies.history import History
from policies.model import CapRule, MinGapRule, Policy, QuietHoursRule, Rule
from policies.rules.cap import cap_earliest
from policies.rules.gap import gap_earliest
from policies.rules.quiet_hours import next_opening

__all__ = ["earliest", "evaluate", "permission_refused"]

#: How far ahead a touch may be deferred before the rules count as never agreeing.
HORIZON = timedelta(days=400)


def evaluate(
    candidate: Candidate,
    history: History,
    policy: Policy,
    contact: ContactFacts,
    now: datetime,
) -> Decision:
    """Allow, defer or block `candidate`, with the rule and a sentence that explain it.

    The built-in checks come first: suppression, consent, a missing address, a pause. A
    transactional touch is held back only by those (never by a pause, nor by the rules).
    A defer's `until` is the earliest instant at which *every* rule allows the touch.
    """
    refusal = permission_refused(candidate, policy, contact)
    if refusal is not None:
        return refusal
    channel = candidate.channel
    if candidate.category != "marketing":
        return Allow()

    rules = [rule for rule in policy.rules if _judges(rule, candidate)]
    cost = policy.weight(channel, candidate.weight)
    until, holding, why = now, "", ""  # holding: what keeps the touch from going now
    if contact.paused_until is not None and contact.paused_until > now:
        until = contact.paused_until
        holding = "paused"
        why = f"The contact asked not to be disturbed until {at_local(until, contact.timezone)}"
    while True:  # until every rule agrees: each one only ever moves `until` later
        moved = False
        for rule in rules:
            allowed_at = earliest(rule, candidate, history, cost, contact, until)
            if allowed_at is None:
                return Block(rule.name, explain_rule(rule, candidate, history, cost, contact, now))
            if allowed_at > until:
                until, moved = allowed_at, True
                if not holding:
                    holding = rule.name
                    why = explain_rule(rule, candidate, history, cost, contact, now)
        if not moved:
            break
        if until > now + HORIZON:
            return Block(holding, f"{why}; and the rules never all allow the touch again.")
    if not holding:
        return Allow()
    reason = f"{why}; next free {at_local(until, contact.timezone)}."
    if candidate.deadline is not None and until > candidate.deadline:
        limit = at_local(candidate.deadline, contact.timezone)
        return Block(holding, f"{reason} That is past the step's last moment ({limit}).")
    return Defer(until, holding, reason)


def permission_refused(candidate: Candidate, policy: Policy, contact: ContactFacts) -> Block | None:
    """The checks no touch gets past, whatever the clock says: suppression, consent, an
    address. (Checked again just before a queued message leaves: consent can change.)"""
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
    return None


def earliest(
    rule: Rule,
    candidate: Candidate,
    history: History,
    cost: float,
    contact: ContactFacts,
    instant: datetime,
) -> datetime | None:
    """The first instant from `instant` on at which `rule` allows the touch (None: never)."""
    if isinstance(rule, CapRule):
        return cap_earliest(rule, history, cost if rule.unit == "weight" else 1, instant)
    if isinstance(rule, MinGapRule):
        return gap_earliest(rule, history, instant)
    assert isinstance(rule, QuietHoursRule)
    return next_opening(rule, instant, contact.timezone)


def _judges(rule: Rule, candidate: Candidate) -> bool:
    if not rule.applies_to(candidate.channel):
        return False
    return not (
        isinstance(rule, CapRule)
        and rule.categories is not None
        and candidate.category not in rule.categories
    )
