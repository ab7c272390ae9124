"""A campaign's numbers: enrollments by state, and per step what its touches came to.

A blocked or deferred touch counts once by its binding rule (`blocked_by_rule`), and once
more for each other rule that held it (`blocked_also_by_rule`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.definitions import CampaignDefinition
from orchestrator.errors import NotFound
from orchestrator.store.campaigns import CampaignStore
from orchestrator.store.enrollments import EnrollmentStore
from orchestrator.store.events import EventStore
from orchestrator.store.holds import HoldStore
from orchestrator.store.touches import TouchStore

__all__ = ["CampaignNumbers", "StatsService", "StepNumbers"]


#: Judged touches the policy did not let through (a withdrawn one was admitted first;
#: one failed before the policy saw it, for a template or a channel, was never judged).
_NOT_ADMITTED = frozenset({"blocked", "deferred"})
#: A mail the relay accepted, or a task its worker finished.
_DONE = frozenset({"sent", "completed"})


@dataclass
class StepNumbers:
    step_id: str
    type: str
    entered: int = 0
    admitted: int = 0
    deferred: int = 0
    blocked: int = 0
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    in_doubt: int = 0
    clicks: int = 0
    touches: dict[str, int] = field(default_factory=dict)
    blocked_by_rule: dict[str, int] = field(default_factory=dict)
    deferred_by_rule: dict[str, int] = field(default_factory=dict)
    blocked_also_by_rule: dict[str, int] = field(default_factory=dict)
    deferred_also_by_rule: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    at_step: int = 0


@dataclass(frozen=True)
class CampaignNumbers:
    enrollments: dict[str, int]
    steps: list[StepNumbers]

    @property
    def retrying(self) -> int:
        """Messages of every step waiting for another attempt."""
        return sum(step.retrying for step in self.steps)

    @property
    def in_doubt(self) -> int:
        """Messages of every step interrupted mid-send, awaiting an operator."""
        return sum(step.in_doubt for step in self.steps)


class StatsService:
    """Reads a campaign's numbers (every version's steps, by step id)."""

    def __init__(self, session: AsyncSession) -> None:
        self._campaigns = CampaignStore(session)
        self._enrollments = EnrollmentStore(session)
        self._touches = TouchStore(session)
        self._events = EventStore(session)
        self._holds = HoldStore(session)

    async def numbers(self, campaign_id: int) -> CampaignNumbers:
        campaign = await self._campaigns.get(campaign_id)
        if campaign is None:
            raise NotFound(f"campaign {campaign_id} does not exist")
        current = await self._campaigns.version(campaign_id, campaign.current_version)
        assert current is not None
        steps = {
            step.id: StepNumbers(step.id, step.type)
            for step in CampaignDefinition.model_validate(current.definition).steps
        }

        def step(step_id: str | None) -> StepNumbers:
            key = step_id or "?"
            return steps.setdefault(key, StepNumbers(key, "retired"))

        decisions = await self._touches.decision_counts(campaign_id)
        for step_id, status, rule, judged, count in decisions:
            numbers = step(step_id)
            numbers.touches[status] = numbers.touches.get(status, 0) + count
            if judged and status not in _NOT_ADMITTED:
                numbers.admitted += count
            by_rule = {"blocked": numbers.blocked_by_rule, "deferred": numbers.deferred_by_rule}
            if status in by_rule and rule is not None:
                by_rule[status][rule] = by_rule[status].get(rule, 0) + count
        for step_id, status, rule, count in await self._holds.also_held_counts(campaign_id):
            numbers = step(step_id)
            also = {
                "blocked": numbers.blocked_also_by_rule,
                "deferred": numbers.deferred_also_by_rule,
            }
            if status in also:
                also[status][rule] = also[status].get(rule, 0) + count
        for step_id, count in await self._touches.retrying_counts(campaign_id):
            step(step_id).retrying = count
        for step_id, outcome, count in await self._touches.outcome_counts(campaign_id):
            step(step_id).outcomes[outcome] = count
        for step_id, type_, count in await self._events.counts_by_step(campaign_id):
            step(step_id).events[type_] = count
        for step_id, count in (await self._enrollments.counts_by_step(campaign_id)).items():
            step(step_id).at_step = count
        for step_id, count in (await self._campaigns.entries(campaign_id)).items():
            step(step_id).entered = count
        for numbers in steps.values():
            _total(numbers)
        return CampaignNumbers(
            await self._enrollments.counts_by_state(campaign_id), list(steps.values())
        )


def _total(numbers: StepNumbers) -> None:
    touches = numbers.touches
    numbers.deferred = touches.get("deferred", 0)
    numbers.blocked = touches.get("blocked", 0)
    numbers.sent = sum(touches.get(status, 0) for status in _DONE)
    numbers.failed = touches.get("failed", 0)
    numbers.in_doubt = touches.get("in_doubt", 0)
    numbers.clicks = numbers.events.get("click", 0)
