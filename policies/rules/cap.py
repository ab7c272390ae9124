"""Caps: at most so many touches (or weight points) in any rolling window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from policies.facts import CountedTouch
from policies.history import History
from policies.model import CapRule

__all__ = ["cap_earliest", "cap_used", "counted"]


def counted(rule: CapRule, history: History, instant: datetime) -> Sequence[CountedTouch]:
    """The touches the cap counts at `instant`: in its window, on its channels and categories."""
    return [
        touch
        for touch in history.after(instant - rule.window)
        if rule.applies_to(touch.channel)
        and (rule.categories is None or touch.category in rule.categories)
    ]


def cap_used(rule: CapRule, touches: Sequence[CountedTouch]) -> float:
    """What the counted touches use of the cap."""
    return sum(touch.weight for touch in touches) if rule.unit == "weight" else len(touches)


def cap_earliest(
    rule: CapRule, history: History, cost: float, instant: datetime
) -> datetime | None:
    """The first instant from `instant` on when a touch costing `cost` fits under the cap
    (touches leave the window one by one as it rolls); None if it never can."""
    if cost > rule.max:
        return None
    touches = counted(rule, history, instant)
    used = cap_used(rule, touches)
    if used + cost <= rule.max:
        return instant
    for touch in touches:  # oldest first: the window lets go of them in this order
        used -= touch.weight if rule.unit == "weight" else 1
        if used + cost <= rule.max:
            return touch.at + rule.window
    return None  # unreachable: with every touch gone, cost <= max
