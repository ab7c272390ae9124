"""The decision for one candidate touch: allow, defer until an exact instant, or block.

Every rule that holds the touch is named, each with its own free time; the binding rule is
the one that frees last, and its free time is the decision's `until`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from policies.decision import Allow, Block, Decision, Defer, Hold
from policies.explain import at_local
from policies.facts import Candidate, ContactFacts
from policies.history import History
from policies.model import Policy
from policies.rules.consent import paused, permission_refused

__all__ = ["evaluate", "permission_refused"]

#: How far ahead a touch may be deferred before the rules count as never agreeing.
HORIZON = timedelta(days=400)

#: Where the contact's pause stands among the holds: before every rule of the policy.
_PAUSE = -1


def evaluate(
    candidate: Candidate,
    history: History,
    policy: Policy,
    contact: ContactFacts,
    now: datetime,
) -> Decision:
    """Allow, defer or block `candidate`, with the rules and a sentence that explain it.

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
    # Each holding rule by its place in the policy, with the latest instant it held the
    # touch to: its own next free time, or later where it closes when the others open.
    holds: dict[int, Hold] = {}
    why: dict[int, str] = {}
    pause = paused(contact, now)
    if pause is not None:
        holds[_PAUSE], why[_PAUSE] = Hold("paused", pause.until), pause.reason
    for place, rule in enumerate(rules):
        free_at = rule.earliest(candidate, history, cost, contact, now)
        if free_at is None or free_at > now:
            holds[place] = Hold(rule.name, free_at)
            why[place] = rule.explain(candidate, history, cost, contact, now)
    if any(hold.free_at is None for hold in holds.values()):
        return _block(holds, why, contact.timezone, "")

    until = max((hold.free_at for hold in holds.values() if hold.free_at), default=now)
    while True:  # until every rule agrees: each one only ever moves `until` later
        moved = False
        for place, rule in enumerate(rules):
            free_at = rule.earliest(candidate, history, cost, contact, until)
            if free_at is not None and free_at <= until:
                continue
            holds[place] = Hold(rule.name, free_at)
            why.setdefault(place, rule.explain(candidate, history, cost, contact, now))
            if free_at is None:
                return _block(holds, why, contact.timezone, "")
            until, moved = free_at, True
        if not moved:
            break
        if until > now + HORIZON:
            return _block(holds, why, contact.timezone, " The rules never all allow it again.")
    if not holds:
        return Allow()
    binding, also = _binding(holds)
    reason = _sentence(binding, holds, why, contact.timezone)
    if candidate.deadline is not None and until > candidate.deadline:
        limit = at_local(candidate.deadline, contact.timezone)
        past = f"{reason} That is past the step's last moment ({limit})."
        return Block(holds[binding].rule, past, also)
    return Defer(until, holds[binding].rule, reason, also)


def _binding(holds: dict[int, Hold]) -> tuple[int, tuple[Hold, ...]]:
    """The hold that frees last (never, before any time; the first in the policy on a tie),
    and the others in the policy's order."""
    latest = max(
        holds, key=lambda place: (holds[place].free_at is None, holds[place].free_at, -place)
    )
    return latest, tuple(holds[place] for place in sorted(holds) if place != latest)


def _block(holds: dict[int, Hold], why: dict[int, str], timezone: str, ending: str) -> Block:
    binding, also = _binding(holds)
    return Block(holds[binding].rule, _sentence(binding, holds, why, timezone) + ending, also)


def _sentence(binding: int, holds: dict[int, Hold], why: dict[int, str], timezone: str) -> str:
    """Each holding rule in a sentence with its free time, the binding rule first (the
    pause's own sentence says when it ends)."""
    parts = []
    for place in [binding, *(place for place in sorted(holds) if place != binding)]:
        free_at = holds[place].free_at
        if free_at is None:
            parts.append(f"{why[place]}; it never lets the touch through.")
        elif place == _PAUSE:
            parts.append(f"{why[place]}.")
        else:
            parts.append(f"{why[place]}; next free {at_local(free_at, timezone)}.")
    return " ".join(parts)
