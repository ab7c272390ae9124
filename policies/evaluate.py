"""The decision for one candidate touch: allow, defer until an exact instant, or block."""

from __future__ import annotations

from datetime import datetime, timedelta

from policies.decision import Allow, Block, Decision, Defer
from policies.explain import at_local
from policies.facts import Candidate, ContactFacts
from policies.history import History
from policies.model import Policy
from policies.rules.consent import paused, permission_refused

__all__ = ["evaluate", "permission_refused"]

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
    if candidate.category != "marketing":
        return Allow()

    rules = [rule for rule in policy.rules if rule.judges(candidate)]
    cost = policy.weight(candidate.channel, candidate.weight)
    until, holding, why = now, "", ""  # holding: what keeps the touch from going now
    pause = paused(contact, now)
    if pause is not None:
        until, holding, why = pause.until, "paused", pause.reason
    while True:  # until every rule agrees: each one only ever moves `until` later
        moved = False
        for rule in rules:
            allowed_at = rule.earliest(candidate, history, cost, contact, until)
            if allowed_at is None:
                return Block(rule.name, rule.explain(candidate, history, cost, contact, now))
            if allowed_at > until:
                until, moved = allowed_at, True
                if not holding:
                    holding = rule.name
                    why = rule.explain(candidate, history, cost, contact, now)
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
