"""Caps: at most so many touches (or weight points) in any rolling window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from policies.durations import Duration
from policies.explain import a_touch, at_local, span, touches
from policies.facts import Candidate, ContactFacts, CountedTouch
from policies.history import History
from policies.rules.base import Reading, RuleBase

__all__ = ["CapRule"]


class CapRule(RuleBase):
    """At most `max` touches (or weight points) on `channels` in any rolling `window`."""

    type: Literal["cap"]
    max: float = Field(gt=0)
    window: Duration
    unit: Literal["touches", "weight"] = "touches"
    categories: list[Literal["marketing", "transactional"]] | None = None

    def judges(self, candidate: Candidate) -> bool:
        """Its channels, and only the categories it counts."""
        in_categories = self.categories is None or candidate.category in self.categories
        return in_categories and self.applies_to(candidate.channel)

    @property
    def lookback(self) -> timedelta:
        return self.window

    def counted(self, history: History, instant: datetime) -> Sequence[CountedTouch]:
        """The touches the cap counts at `instant`: in its window, on its channels and
        categories."""
        return [
            touch
            for touch in history.after(instant - self.window)
            if self.applies_to(touch.channel)
            and (self.categories is None or touch.category in self.categories)
        ]

    def used(self, touches: Sequence[CountedTouch]) -> float:
        """What the counted touches use of the cap."""
        return sum(touch.weight for touch in touches) if self.unit == "weight" else len(touches)

    def earliest(
        self,
        candidate: Candidate,
        history: History,
        cost: float,
        contact: ContactFacts,
        instant: datetime,
    ) -> datetime | None:
        return self._fits_from(history, cost if self.unit == "weight" else 1, instant)

    def explain(
        self,
        candidate: Candidate,
        history: History,
        cost: float,
        contact: ContactFacts,
        now: datetime,
    ) -> str:
        if self.unit == "weight" and cost > self.max:
            return (
                f"{self.name}: {a_touch(candidate.channel)} costs {cost:g} points, more than "
                f"the {self.max:g} allowed per {span(self.window)}"
            )
        used = self.used(self.counted(history, now))
        since = at_local(now - self.window, contact.timezone)
        if self.unit == "weight":
            costs = f"{a_touch(candidate.channel)} costs {cost:g}"
            return f"{self.name}: {used:g} of {self.max:g} points used since {since} and {costs}"
        return f"{self.name}: {used:g} of {self.max:g} {touches(self.channels)} used since {since}"

    def reading(
        self, history: History, costs: Mapping[str, float], timezone: str, now: datetime
    ) -> Reading:
        """The next free time is the lightest touch the cap counts: one touch, or the
        fewest points one of its channels costs."""
        lightest = min(
            (cost for channel, cost in costs.items() if self.applies_to(channel)), default=1
        )
        free = self._fits_from(history, lightest if self.unit == "weight" else 1, now)
        return Reading(self.used(self.counted(history, now)), self.max, free)

    def _fits_from(self, history: History, units: float, instant: datetime) -> datetime | None:
        """The first instant from `instant` on when `units` more fit under the cap (touches
        leave the window one by one as it rolls); None if they never can."""
        if units > self.max:
            return None
        touches = self.counted(history, instant)
        used = self.used(touches)
        if used + units <= self.max:
            return instant
        for touch in touches:  # oldest first: the window lets go of them in this order
            used -= touch.weight if self.unit == "weight" else 1
            if used + units <= self.max:
                return touch.at + self.window
        return None  # unreachable: with every touch gone, units <= max
