"""`/v1/touches`: the operator's answer for a message interrupted mid-send."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from app.auth import CampaignsKey
from app.deps import RuntimeDep, SessionDep
from app.schemas.problems import problem_responses
from app.schemas.touches import TouchResolution, TouchStatus
from orchestrator.services.touches import TouchService

router = APIRouter(
    prefix="/v1/touches", tags=["touches"], responses=problem_responses(400, 401, 403, 422)
)

TouchId = Annotated[int, Path(ge=1, le=2**63 - 1)]


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
