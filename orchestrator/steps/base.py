"""What every step type has: an id, what the campaign checks read in its JSON, and how it
moves an enrollment on."""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, ClassVar

from orchestrator.definition_fields import StepId, Strict

if TYPE_CHECKING:
    from orchestrator.steps.enrollment import EnrollmentContext, Position
    from orchestrator.steps.send import SendStep

__all__ = ["FieldPath", "Progress", "StepBase"]

#: Keys leading to a value in a step's JSON; `*` stands for every item of a list.
FieldPath = tuple[str, ...]


class Progress(Enum):
    """What a step did to an enrollment (a send step answers itself instead)."""

    #: It went on to another step, or ended: advance further.
    MOVED = "moved"
    #: It stays on the step until `position.next_action_at` (or an event).
    HELD = "held"


class StepBase(Strict):
    """A step. Its class says where its targets are, so the campaign checks read them even
    in a step whose shape is broken."""

    id: StepId

    #: Fields naming the steps it leads to (`("cases", "*", "next")`).
    target_fields: ClassVar[tuple[FieldPath, ...]] = ()
    #: The field naming where it goes on to; left out, the enrollment goes to the following
    #: step. None for a step that never goes on to the following one.
    falls_through_at: ClassVar[str | None] = None
    #: Fields holding conditions, whose event conditions may name a send step.
    condition_fields: ClassVar[tuple[FieldPath, ...]] = ()
    #: Whether it holds an enrollment for a while, so a loop through it is paced.
    paces_loops: ClassVar[bool] = False
    #: Whether it makes touches (which event conditions may name).
    makes_touches: ClassVar[bool] = False
    #: Whether advancing it reads the enrollment's events (the dispatcher loads them then).
    reads_events: ClassVar[bool] = False

    @abstractmethod
    def advance(
        self, position: Position, context: EnrollmentContext, now: datetime
    ) -> Progress | SendStep:
        """Move the enrollment standing on this step, if it may move now."""

    def go_on(
        self, position: Position, context: EnrollmentContext, now: datetime, target: str | None
    ) -> Progress:
        """Enter `target`, or the following step when the step names none."""
        position.enter(target or context.campaign.following(self.id), now)
        return Progress.MOVED
