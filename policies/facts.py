"""The plain data the policy judges: the candidate touch, the contact, the past touches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

from policies.preferences import Preferences

__all__ = ["Candidate", "ContactFacts", "CountedTouch"]


@dataclass(frozen=True)
class Candidate:
    """A touch a campaign step asks for."""

    channel: str
    category: Literal["marketing", "transactional"]
    #: Where it would go (an email, a phone number, a handle), None if the contact has none.
    address: str | None
    #: The step's fatigue weight, overriding the policy's weight of the channel.
    weight: float | None = None
    #: After this instant a defer becomes a block (the step's `max_delay`).
    deadline: datetime | None = None
    #: The campaign's topic (one of the policy's `topics`), None if it has none.
    topic: str | None = None


@dataclass(frozen=True)
class ContactFacts:
    """What the policy knows of the contact."""

    timezone: str
    consent: Mapping[str, str] = field(default_factory=dict)
    paused_until: datetime | None = None
    #: Channels on which the contact or the candidate's address is suppressed (`*`: all).
    suppressed: frozenset[str] = frozenset()
    #: What the contact chose for itself (None: nothing).
    preferences: Preferences | None = None


class CountedTouch(NamedTuple):
    """An admitted touch that counts against caps and gaps (a tuple: histories are built
    by the thousand for every batch)."""

    channel: str
    at: datetime
    weight: float
    category: Literal["marketing", "transactional"] = "marketing"
