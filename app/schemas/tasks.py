"""The worker API's shapes: a task comes with its contact, its content and some history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.schemas.contacts import ContactPublic
from orchestrator.models import Event, Touch
from orchestrator.services.tasks import ClaimedTask

__all__ = ["PastEvent", "PastTouch", "TaskList", "TaskPublic", "TaskState"]


class PastTouch(BaseModel):
    """An earlier touch of the contact (any campaign)."""

    id: int
    channel: str
    status: str
    campaign_id: int | None
    step_id: str | None
    outcome: str | None
    created_at: datetime


class PastEvent(BaseModel):
    """A recent event of the contact."""

    type: str
    occurred_at: datetime
    data: dict[str, Any]


class TaskState(BaseModel):
    """Where a task stands."""

    id: int
    channel: str
    status: str
    worker: str | None
    lease_until: datetime | None
    outcome: str | None
    attempts: int

    @classmethod
    def of(cls, touch: Touch) -> TaskState:
        return cls.model_validate(touch, from_attributes=True)


class TaskPublic(TaskState):
    """A claimed task: what to do (the rendered content), for whom, and what came before."""

    campaign_id: int | None
    step_id: str | None
    content: dict[str, str]
    outcomes: list[str]
    contact: ContactPublic
    history: list[PastTouch]
    events: list[PastEvent]

    @classmethod
    def of_claim(cls, claimed: ClaimedTask, outcomes: list[str]) -> TaskPublic:
        touch = claimed.touch
        return cls(
            **TaskState.of(touch).model_dump(),
            campaign_id=touch.campaign_id,
            step_id=touch.step_id,
            content=touch.content,
            outcomes=outcomes,
            contact=ContactPublic.model_validate(claimed.contact),
            history=[PastTouch.model_validate(t, from_attributes=True) for t in claimed.history],
            events=[_event(e) for e in claimed.events],
        )


def _event(event: Event) -> PastEvent:
    return PastEvent.model_validate(event, from_attributes=True)


class TaskList(BaseModel):
    tasks: list[TaskPublic]
