"""Minimum gaps: so long at least between two touches."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

from policies.durations import Duration
from policies.explain import at_local, span
from policies.facts import Candidate, ContactFacts, CountedTouch
from policies.history import History
from policies.rules.base import Reading, RuleBase

__all__ = ["MinGapRule"]


class MinGapRule(RuleBase):
    """At least `gap` between two touches on `channels`."""

    type: Literal["min_gap"]
    gap: Duration

    @property
    def lookback(self) -> timedelta:
        return self.gap

    def last_within(self, history: History, instant: datetime) -> CountedTouch | None:
        """The newest touch on the rule's channels less than `gap` before `instant`."""
        recent = history.after(instant - self.gap)
        return next((t for t in reversed(recent) if self.applies_to(t.channel)), None)

    def earliest(
        self,
        candidate: Candidate,
        history: History,
        cost: float,
        contact: ContactFacts,
        instant: datetime,
    ) -> datetime:
        return self._free_from(history, instant)

    def explain(
        self,
        candidate: Candidate,
        history: History,
        cost: float,
        contact: ContactFacts,
        now: datetime,
    ) -> str:
        last = self.last_within(history, now)
        when = at_local(last.at, contact.timezone) if last else "recently"
        return f"{self.name}: the last touch was {when}, less than {span(self.gap)} before"

    def reading(
        self, history: History, costs: Mapping[str, float], timezone: str, now: datetime
    ) -> Reading:
        """Used 1 of 1 while the last touch is less than `gap` ago."""
        used = 1 if self.last_within(history, now) else 0
        return Reading(used, 1, self._free_from(history, now))

    def _free_from(self, history: History, instant: datetime) -> datetime:
        """The first instant from `instant` on that is `gap` after the last touch."""
        last = self.last_within(history, instant)
        return instant if last is None else max(instant, last.at + self.gap)
