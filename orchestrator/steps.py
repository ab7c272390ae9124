"""How an enrollment moves through the steps: pure functions of its position, the facts
and `now`. Sending steps stop the advance: the dispatcher asks the policy, then resumes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from orchestrator.conditions import EventFact, Facts, first_match, holds
from orchestrator.definitions import (
    BranchStep,
    CampaignDefinition,
    ExitStep,
    SendStep,
    SplitStep,
    UntilTime,
    WaitForEventStep,
    WaitStep,
)
from policies import Allow, Block, Decision, Defer
from policies.local_time import first_at

__all__ = [
    "MAX_STEPS_PER_PASS",
    "EnrollmentContext",
    "Position",
    "advance",
    "apply_decision",
    "split_choice",
]

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
    campaign = context.campaign
    if position.next_action_at is not None and position.next_action_at > now:
        return None  # deferred, or waiting: not due yet
    for _ in range(MAX_STEPS_PER_PASS):
        if not position.active or position.step_id is None:
            return None
        step = campaign.steps_by_id[position.step_id]
        if isinstance(step, SendStep):
            return step
        if isinstance(step, WaitStep):
            due = _wait_over(step, position.entered_at, context.timezone)
            if now < due:
                position.next_action_at = due
                return None
            position.enter(step.next or campaign.following(step.id), now)
        elif isinstance(step, WaitForEventStep):
            cases = [(case.when, case.next) for case in step.cases]
            target = first_match(cases, context.events_since(position.entered_at))
            if target is not None:
                position.enter(target, now)
            elif now >= position.entered_at + step.timeout:
                position.enter(step.on_timeout or campaign.following(step.id), now)
            else:
                position.next_action_at = position.entered_at + step.timeout
                position.awaiting_event = True
                return None
        elif isinstance(step, BranchStep):
            facts = replace(context.facts, events=context.events_since(context.enrolled_at))
            chosen = next((case.next for case in step.cases if holds(case.when, facts)), None)
            position.enter(chosen or step.default or campaign.following(step.id), now)
        elif isinstance(step, SplitStep):
            position.enter(split_choice(step, context.campaign_id, context.contact_id), now)
        else:
            assert isinstance(step, ExitStep)
            position.finish("exited", "exit_step", now)
    position.next_action_at = now
    return None


def apply_decision(
    position: Position,
    step: SendStep,
    decision: Decision,
    campaign: CampaignDefinition,
    now: datetime,
) -> None:
    """Move on from a send step once the policy has decided."""
    following = step.next or campaign.following(step.id)
    if isinstance(decision, Allow):
        position.enter(following, now)
    elif isinstance(decision, Defer):
        position.attempt += 1
        position.next_action_at = decision.until
    else:
        assert isinstance(decision, Block)
        if step.on_blocked == "exit":
            position.finish("exited", "blocked", now)  # the rule is on the blocked touch
        else:
            position.enter(following, now)


def split_choice(step: SplitStep, campaign_id: int, contact_id: int) -> str:
    """The variant's next step for this contact: stable across passes and processes."""
    digest = hashlib.sha256(f"{campaign_id}:{contact_id}:{step.id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(v.weight for v in step.variants)
    for variant in step.variants:
        point -= variant.weight
        if point < 0:
            return variant.next
    return step.variants[-1].next


def _wait_over(step: WaitStep, entered_at: datetime, timezone: str) -> datetime:
    if step.duration is not None:
        return entered_at + step.duration
    assert step.until is not None
    return next_time_of_day(step.until, entered_at, timezone)


def next_time_of_day(until: UntilTime, after: datetime, timezone: str) -> datetime:
    """The first instant at or after `after` when the contact's clock shows `until.time` on
    one of `until.days` (a time a DST change skips shows when the clock jumps past it)."""
    zone = ZoneInfo(timezone)
    start = after.astimezone(zone).date()
    for offset in range(8):
        day = start + timedelta(days=offset)
        if day.weekday() not in until.weekdays:
            continue
        instant = first_at(day, until.time, zone)
        if instant >= after:
            return instant
    raise AssertionError("a week always has an allowed day")  # days is never empty
