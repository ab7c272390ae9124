"""`exit`: end the enrollment here."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from orchestrator.steps.base import Progress, StepBase

if TYPE_CHECKING:
    from orchestrator.steps.enrollment import EnrollmentContext, Position

__all__ = ["ExitStep"]


class ExitStep(StepBase):
    """End the enrollment here."""

    type: Literal["exit"]

    def advance(self, position: Position, context: EnrollmentContext, now: datetime) -> Progress:
        position.finish("exited", "exit_step", now)
        return Progress.MOVED
