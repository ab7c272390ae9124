"""`/v1/touches`: the touch list, and the operator's answer for a message interrupted
mid-send."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime

from app.auth import CampaignsKey
from app.deps import RuntimeDep, SessionDep
from app.schemas.problems import problem_responses
from app.schemas.touches import TouchList, TouchResolution, TouchStatus
from orchestrator.services.touch_list import TouchFilter, TouchListService
from orchestrator.services.touches import TouchService

router = APIRouter(
    prefix="/v1/touches", tags=["touches"], responses=problem_responses(400, 401, 403, 422)
)

TouchId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Id = Annotated[int | None, Query(ge=1, le=2**63 - 1)]
#: A step id, a channel or a rule's name: never longer than the columns that hold them.
Name = Annotated[str | None, Query(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]
Instant = Annotated[AwareDatetime | None, Query(description="with its offset, e.g. `Z`")]
Status = Literal[
    "blocked", "deferred", "queued", "claimed", "completed", "sending", "sent", "failed",
    "in_doubt", "canceled",
]  # fmt: skip


@router.get("", response_model=TouchList)
async def list_touches(
    session: SessionDep,
    _key: CampaignsKey,
    campaign_id: Id = None,
    step_id: Name = None,
    channel: Name = None,
    status: Status | None = None,
    rule: Name = None,
    held_by: Name = None,
    contact_id: Id = None,
    since: Instant = None,
    until: Instant = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> TouchList:
    """Touches newest first. Filters: `rule` is the binding rule of a decision, `held_by`
    any rule that held the touch; `since` (inclusive) and `until` bound its creation time.
    "Who was blocked by the weekly cap yesterday?" is
    `?status=blocked&held_by=weekly&since=...&until=...`."""
    where = TouchFilter(
        campaign_id=campaign_id,
        step_id=step_id,
        channel=channel,
        status=status,
        rule=rule,
        held_by=held_by,
        contact_id=contact_id,
        since=since,
        until=until,
    )
    return TouchList.of(await TouchListService(session).page(where, cursor, limit))


@router.post(
    "/{touch_id:int}/resolve", response_model=TouchStatus, responses=problem_responses(404, 409)
)
async def resolve_touch(
    touch_id: TouchId,
    answer: TouchResolution,
    session: SessionDep,
    runtime: RuntimeDep,
    _key: CampaignsKey,
) -> TouchStatus:
    """Settle a touch `in_doubt`: `{"as": "sent"}` records it as sent, `{"as": "resend"}`
    queues it again; 409 for a touch in any other state."""
    touch = await TouchService(session, runtime.clock).resolve(touch_id, answer.resolution)
    return TouchStatus.model_validate(touch)
