"""What every rule type is: a named limit on some channels that knows when it lets a touch
through, why it holds one back, and how much of it a contact uses now."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from policies.facts import Candidate, ContactFacts
from policies.history import History

__all__ = ["Channels", "Reading", "RuleBase"]

Channels = Annotated[list[Annotated[str, Field(min_length=1, max_length=32)]], Field(min_length=1)]


class Reading(NamedTuple):
    """A rule now, for one contact: what is used of what limit (None where the rule counts
    nothing), and when it next lets a touch through (None: never)."""

    used: float | None
    limit: float | None
    next_free: datetime | None


class RuleBase(BaseModel):
    """A rule of the policy. A rule type subclasses it with a `type` literal, its own fields
    and the three readings below, and joins the `Rule` union in `policies.rules`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    channels: Channels = ["*"]

    def applies_to(self, channel: str) -> bool:
        """Whether the rule judges touches on `channel`."""
        return "*" in self.channels or channel in self.channels

    def judges(self, candidate: Candidate) -> bool:
        """Whether the rule has a say on `candidate` (its channel, by default)."""
        return self.applies_to(candidate.channel)

    @property
    def lookback(self) -> timedelta:
        """How far back the rule reads the contact's history (nothing, by default)."""
        return timedelta(0)

    @abstractmethod
    def earliest(
        self,
        candidate: Candidate,
        history: History,
        cost: float,
        contact: ContactFacts,
        instant: datetime,
    ) -> datetime | None:
        """The first instant from `instant` on at which the rule allows the touch, which
        costs `cost` (None: never)."""

    @abstractmethod
    def explain(
        self,
        candidate: Candidate,
        history: History,
        cost: float,
        contact: ContactFacts,
        now: datetime,
    ) -> str:
        """Why the rule holds the touch back at `now`, in a sentence without its end."""

    @abstractmethod
    def reading(
        self, history: History, costs: Mapping[str, float], timezone: str, now: datetime
    ) -> Reading:
        """The rule at `now` for a contact with `history` on the clock of `timezone`;
        `costs` is what one touch costs on each channel of the installation."""
