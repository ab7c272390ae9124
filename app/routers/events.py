"""`/v1/events`: custom events from clients."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Response, status
from pydantic import BaseModel

from app.auth import EventsKey
from app.deps import RuntimeDep, SessionDep
from app.schemas.problems import problem_responses
from orchestrator.services.events import EventIn, EventService

router = APIRouter(
    prefix="/v1/events", tags=["events"], responses=problem_responses(400, 401, 403, 422)
)


class EventPublic(BaseModel):
    """A stored event; `duplicate` when its idempotency key was seen before."""

    id: int
    contact_id: int
    type: str
    occurred_at: datetime
    received_at: datetime
    data: dict[str, Any]
    duplicate: bool


@router.post(
    "",
    response_model=EventPublic,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": EventPublic, "description": "a duplicate"}, **problem_responses(404)},
)
async def post_event(
    event: EventIn,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    background: BackgroundTasks,
    _key: EventsKey,
) -> EventPublic:
    """Record an event (201); the same idempotency key again changes nothing (200). Enrollments
    waiting for it go on at once; a campaign's goal ends its enrollments."""
    service = EventService(session, runtime.clock, runtime.catalog)
    recorded = await service.record_api_event(event, secret_key=runtime.secret_key)
    if recorded.created:
        background.add_task(runtime.wake)
    else:
        response.status_code = status.HTTP_200_OK
    stored = recorded.event
    assert stored.id is not None
    return EventPublic(
        id=stored.id,
        contact_id=stored.contact_id,
        type=stored.type,
        occurred_at=stored.occurred_at,
        received_at=stored.received_at,
        data=stored.data,
        duplicate=not recorded.created,
    )
