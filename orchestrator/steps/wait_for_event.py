"""`wait_for_event`: wait for the first matching event since the step was entered, or for
the timeout."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from orchestrator.conditions import EventCondition, first_match
from orchestrator.definition_fields import StepId, Strict
from orchestrator.steps.base import FieldPath, Progress, StepBase
from policies.durations import Duration

if TYPE_CHECKING:
    from orchestrator.steps.enrollment import EnrollmentContext, Position

__all__ = ["EventCase", "WaitForEventStep"]


class EventCase(Strict):
    when: EventCondition
    next: StepId


class WaitForEventStep(StepBase):
    """Wait for the first matching event since the step was entered, or for the timeout."""

    type: Literal["wait_for_event"]
    cases: list[EventCase] = Field(min_length=1)
    timeout: Duration
    on_timeout: StepId | None = None

    target_fields: ClassVar[tuple[FieldPath, ...]] = (("cases", "*", "next"),)
    falls_through_at: ClassVar[str | None] = "on_timeout"
    condition_fields: ClassVar[tuple[FieldPath, ...]] = (("cases", "*", "when"),)
    paces_loops: ClassVar[bool] = True
    reads_events: ClassVar[bool] = True

    def advance(self, position: Position, context: EnrollmentContext, now: datetime) -> Progress:
        cases = [(case.when, case.next) for case in self.cases]
        target = first_match(cases, context.events_since(position.entered_at))
        if target is not None:
            position.enter(target, now)
            return Progress.MOVED
        if now >= position.entered_at + self.timeout:
            return self.go_on(position, context, now, self.on_timeout)
        position.next_action_at = position.entered_at + self.timeout
        position.awaiting_event = True
        return Progress.HELD
