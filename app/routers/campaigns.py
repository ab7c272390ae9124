"""`/v1/campaigns`: define, list, read, edit, lifecycle, enrollments, stats."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, status

from app.auth import CampaignsKey
from app.deps import RuntimeDep, SessionDep
from app.schemas.campaigns import (
    CampaignList,
    CampaignPublic,
    CampaignStats,
    CampaignSummary,
    EnrollmentOutcome,
    SkippedContact,
    VersionPublic,
)
from app.schemas.problems import problem_responses
from app.schemas.simulation import Forecast, ForecastRequest
from app.simulation import scratch
from orchestrator.definitions import CampaignDefinition
from orchestrator.services.campaigns import Action, CampaignService
from orchestrator.services.enrollments import EnrollmentRequest, EnrollmentService
from orchestrator.services.stats import StatsService
from orchestrator.simulation import forecast

router = APIRouter(
    prefix="/v1/campaigns", tags=["campaigns"], responses=problem_responses(400, 401, 403, 422)
)

CampaignId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _service(session: SessionDep, runtime: RuntimeDep) -> CampaignService:
    return CampaignService(session, runtime.clock, runtime.channels)


ServiceDep = Annotated[CampaignService, Depends(_service)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignPublic,
    response_model_exclude_none=True,
)
async def define_campaign(
    definition: CampaignDefinition, service: ServiceDep, _key: CampaignsKey
) -> CampaignPublic:
    """Store a campaign as a draft; every problem of the definition is listed at once."""
    return CampaignPublic.of(await service.create(definition))


@router.get("", response_model=CampaignList)
async def list_campaigns(
    service: ServiceDep,
    _key: CampaignsKey,
    status: Annotated[str | None, Query(pattern="^(draft|active|paused|archived)$")] = None,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CampaignList:
    """Campaigns in id order, `limit` at a time after the id `after`."""
    campaigns = await service.page(status=status, after=after, limit=limit + 1)
    page = campaigns[:limit]
    return CampaignList(
        items=[
            CampaignSummary(
                id=c.id,
                name=c.name,
                status=c.status,
                priority=c.priority,
                category=c.category,
                version=c.current_version,
                created_at=c.created_at,
                updated_at=c.updated_at,
            )
            for c in page
        ],
        next_after=page[-1].id if len(campaigns) > limit else None,
    )


@router.get(
    "/{campaign_id:int}",
    response_model=CampaignPublic,
    response_model_exclude_none=True,
    responses=problem_responses(404),
)
async def get_campaign(
    campaign_id: CampaignId,
    service: ServiceDep,
    _key: CampaignsKey,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> CampaignPublic:
    """The campaign with its current version (or `version`)."""
    return CampaignPublic.of(await service.get(campaign_id, version))


@router.put(
    "/{campaign_id:int}",
    response_model=CampaignPublic,
    response_model_exclude_none=True,
    responses=problem_responses(404, 409),
)
async def edit_campaign(
    campaign_id: CampaignId, definition: CampaignDefinition, service: ServiceDep, _key: CampaignsKey
) -> CampaignPublic:
    """Replace the definition: in place while a draft, else as a new version (running
    enrollments finish on theirs)."""
    return CampaignPublic.of(await service.update(campaign_id, definition))


@router.get(
    "/{campaign_id:int}/versions",
    response_model=list[VersionPublic],
    responses=problem_responses(404),
)
async def list_versions(
    campaign_id: CampaignId, service: ServiceDep, _key: CampaignsKey
) -> list[VersionPublic]:
    """Every version of the campaign."""
    return [
        VersionPublic(version=number, created_at=created)
        for number, created in await service.versions(campaign_id)
    ]


def _lifecycle(action: Action) -> object:
    async def change(
        campaign_id: CampaignId,
        service: ServiceDep,
        runtime: RuntimeDep,
        background: BackgroundTasks,
        _key: CampaignsKey,
    ) -> CampaignPublic:
        view = await service.transition(campaign_id, action)
        background.add_task(runtime.wake)
        return CampaignPublic.of(view)

    change.__doc__ = {
        "activate": "Start a draft: enrollments may begin.",
        "pause": "Hold every running enrollment where it is.",
        "resume": "Let paused enrollments go on; what fell due meanwhile goes now.",
        "archive": "End the campaign and every enrollment in it.",
    }[action]
    return change


for _action in ("activate", "pause", "resume", "archive"):
    router.add_api_route(
        f"/{{campaign_id:int}}/{_action}",
        _lifecycle(_action),  # type: ignore[arg-type]
        methods=["POST"],
        response_model=CampaignPublic,
        response_model_exclude_none=True,
        responses=problem_responses(404, 409),
        name=f"{_action}_campaign",
    )


@router.post(
    "/{campaign_id:int}/enrollments",
    response_model=EnrollmentOutcome,
    responses=problem_responses(404, 409),
)
async def enroll_contacts(
    campaign_id: CampaignId,
    request: EnrollmentRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    _key: CampaignsKey,
) -> EnrollmentOutcome:
    """Enroll contacts by id, external id or filter, following the re-entry rule."""
    result = await EnrollmentService(session, runtime.clock, runtime.catalog).enroll(
        campaign_id, request
    )
    if result.enrolled:
        background.add_task(runtime.wake)
    return EnrollmentOutcome(
        enrolled=result.enrolled,
        skipped_count=len(result.skipped),
        skipped=[
            SkippedContact(contact_id=s.contact_id, external_id=s.external_id, reason=s.reason)
            for s in result.skipped
        ],
    )


@router.get(
    "/{campaign_id:int}/stats", response_model=CampaignStats, responses=problem_responses(404)
)
async def campaign_stats(
    campaign_id: CampaignId, session: SessionDep, _key: CampaignsKey
) -> CampaignStats:
    """Enrollments by state; per step, touches by status, decisions by rule, outcomes."""
    return CampaignStats.model_validate(await StatsService(session).numbers(campaign_id))


@router.post(
    "/{campaign_id:int}/simulate", response_model=Forecast, responses=problem_responses(404, 409)
)
async def simulate_campaign(
    campaign_id: CampaignId,
    request: ForecastRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    _key: CampaignsKey,
) -> Forecast:
    """Forecast a draft or active campaign without sending or storing anything: the real
    engine and policy run it, beside the other active campaigns, over a copy of its
    audience on a virtual clock, with the assumed engagement. The same seed gives the same
    answer."""
    return await forecast(
        session, runtime.clock, runtime.channels, await scratch(), campaign_id, request
    )
