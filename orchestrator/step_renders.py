"""A dispatcher's renders, step by step: which touches of a batch to render, and when a
step's touches have gone over the rendering bounds often enough to pause its campaign."""

from __future__ import annotations

from collections import Counter

from orchestrator.rendering import Job, Outcome, Renderer
from orchestrator.templates import OverLimit

__all__ = ["PAUSE_AFTER", "StepKey", "StepRenders"]

#: Touches of one step over the rendering bounds in a row that pause its campaign.
PAUSE_AFTER = 5

#: A campaign's id and a step's id.
StepKey = tuple[int, str]


class StepRenders:
    """Renders touches with a `Renderer` and counts, per step, overruns in a row (across
    passes, in this process)."""

    def __init__(self, renderer: Renderer) -> None:
        self._renderer = renderer
        self._overruns: Counter[StepKey] = Counter()

    async def render(self, jobs: list[Job], steps: list[StepKey]) -> list[Outcome | None]:
        """Each job rendered (`steps[i]` is the step of `jobs[i]`). A step's first
        `PAUSE_AFTER` touches go first: where all of them go over the bounds, its campaign
        is about to be paused, and the others are held back (None) rather than each
        spending the time limit."""
        seen: Counter[StepKey] = Counter()
        first: list[int] = []
        for index, key in enumerate(steps):
            seen[key] += 1
            if seen[key] <= PAUSE_AFTER:
                first.append(index)
        rendered = await self._renderer.render_many([jobs[i] for i in first])
        outcomes: dict[int, Outcome | None] = dict(zip(first, rendered, strict=True))
        over = Counter(steps[i] for i in first if isinstance(outcomes[i], OverLimit))
        rest = [i for i in range(len(jobs)) if i not in outcomes and over[steps[i]] < PAUSE_AFTER]
        rendered = await self._renderer.render_many([jobs[i] for i in rest])
        outcomes.update(zip(rest, rendered, strict=True))
        return [outcomes.get(index) for index in range(len(jobs))]

    def pauses(self, step: StepKey, outcome: Outcome) -> bool:
        """Count one touch's outcome; whether it is the overrun that pauses the campaign."""
        if not isinstance(outcome, OverLimit):
            self._overruns.pop(step, None)
            return False
        self._overruns[step] += 1
        if self._overruns[step] < PAUSE_AFTER:
            return False
        del self._overruns[step]
        return True
