"""Minimum gaps: so long at least between two touches."""

from __future__ import annotations

from datetime import datetime

from policies.facts import CountedTouch
from policies.history import History
from policies.model import MinGapRule

__all__ = ["gap_earliest", "last_within"]


def last_within(rule: MinGapRule, history: History, instant: datetime) -> CountedTouch | None:
    """The newest touch on the rule's channels less than `gap` before `instant`."""
    recent = history.after(instant - rule.gap)
    return next((t for t in reversed(recent) if rule.applies_to(t.channel)), None)


def gap_earliest(rule: MinGapRule, history: History, instant: datetime) -> datetime:
    """The first instant from `instant` on that is `gap` after the last touch."""
    last = last_within(rule, history, instant)
    return instant if last is None else max(instant, last.at + rule.gap)
