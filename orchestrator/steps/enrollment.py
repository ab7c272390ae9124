"""How an enrollment moves through the steps: pure functions of its position, the facts
and `now`. Sending steps stop the advance: the dispatcher asks the policy, then resumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from orchestrator.conditions import EventFact, Facts
from orchestrator.steps.base import Progress

if TYPE_CHECKING:
    from orchestrator.definitions import CampaignDefinition
    from orchestrator.steps.send import SendStep

__all__ = ["MAX_STEPS_PER_PASS", "EnrollmentContext", "Position", "advance"]

#: Steps one enrollment may take in one pass; validation forbids loops without a wait, so
#: only a very long chain of branches reaches it, and the rest waits for the next pass.
MAX_STEPS_PER_PASS = 100


@dataclass
class Position:
    """Where an enrollment is; `advance` changes it in place and the dispatcher stores it."""

    step_id: str | None
    entered_at: datetime
    seq: int
    attempt: int
    state: str = "active"
    exit_reason: str | None = None
    next_action_at: datetime | None = None
    awaiting_event: bool = False
    finished_at: datetime | None = None
    #: The steps entered during this pass, in order (for the campaign's stats).
    entered: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.state == "active"

    def enter(self, step_id: str | None, now: datetime) -> None:
        """Go to `step_id`; past the last step the enrollment completes."""
        self.awaiting_event = False
        if step_id is None:
            self.finish("completed", None, now)
            return
        self.step_id, self.entered_at, self.seq, self.attempt = step_id, now, self.seq + 1, 0
        self.next_action_at = now
        self.entered.append(step_id)

    def finish(self, state: str, reason: str | None, now: datetime) -> None:
        self.state, self.exit_reason, self.finished_at = state, reason, now
        self.next_action_at, self.awaiting_event = None, False


@dataclass(frozen=True)
class EnrollmentContext:
    """What advancing one enrollment needs to know."""

    campaign_id: int
    campaign: CampaignDefinition
    contact_id: int
    timezone: str
    enrolled_at: datetime
    facts: Facts

    def events_since(self, instant: datetime) -> tuple[EventFact, ...]:
        return tuple(event for event in self.facts.events if event.occurred_at >= instant)


def advance(position: Position, context: EnrollmentContext, now: datetime) -> SendStep | None:
    """Go on until a send step is due (returned, for the policy), a wait, or the end."""
    if position.next_action_at is not None and position.next_action_at > now:
        return None  # deferred, or waiting: not due yet
    for _ in range(MAX_STEPS_PER_PASS):
        if not position.active or position.step_id is None:
            return None
        step = context.campaign.steps_by_id[position.step_id]
        outcome = step.advance(position, context, now)
        if outcome is Progress.HELD:
            return None
        if outcome is not Progress.MOVED:
            return outcome
    position.next_action_at = now
    return None
