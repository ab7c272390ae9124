"""`branch`: go to the first case whose condition holds, else to `default`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from orchestrator.conditions import Condition, holds
from orchestrator.definition_fields import StepId, Strict
from orchestrator.steps.base import FieldPath, Progress, StepBase

if TYPE_CHECKING:
    from orchestrator.steps.enrollment import EnrollmentContext, Position

__all__ = ["BranchCase", "BranchStep"]


class BranchCase(Strict):
    when: Condition
    next: StepId


class BranchStep(StepBase):
    """Go to the first case whose condition holds, else to `default`."""

    type: Literal["branch"]
    cases: list[BranchCase] = Field(min_length=1)
    default: StepId | None = None

    target_fields: ClassVar[tuple[FieldPath, ...]] = (("cases", "*", "next"),)
    falls_through_at: ClassVar[str | None] = "default"
    condition_fields: ClassVar[tuple[FieldPath, ...]] = (("cases", "*", "when"),)
    reads_events: ClassVar[bool] = True

    def advance(self, position: Position, context: EnrollmentContext, now: datetime) -> Progress:
        facts = replace(context.facts, events=context.events_since(context.enrolled_at))
        chosen = next((case.next for case in self.cases if holds(case.when, facts)), None)
        return self.go_on(position, context, now, chosen or self.default)
