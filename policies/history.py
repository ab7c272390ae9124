"""A contact's counted touches in time order, so that a decision reads only its windows."""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterable, Sequence
from datetime import datetime

from policies.facts import CountedTouch

__all__ = ["History"]


class History:
    """Touches sorted by time. A rule looks at the touches after an instant (its window) by
    bisection, so the cost of a decision does not grow with the history before that."""

    __slots__ = ("_times", "_touches")

    def __init__(self, touches: Iterable[CountedTouch] = ()) -> None:
        self._touches = sorted(touches, key=lambda touch: touch.at)
        self._times = [touch.at for touch in self._touches]

    def __len__(self) -> int:
        return len(self._touches)

    def add(self, touch: CountedTouch) -> None:
        """Count a touch just admitted (normally the newest)."""
        if not self._times or touch.at >= self._times[-1]:
            self._touches.append(touch)
            self._times.append(touch.at)
        else:
            index = bisect_right(self._times, touch.at)
            self._touches.insert(index, touch)
            insort(self._times, touch.at)

    def after(self, instant: datetime) -> Sequence[CountedTouch]:
        """The touches made strictly after `instant`, oldest first."""
        return self._touches[bisect_right(self._times, instant) :]
