"""`/v1/policy`: the contact-frequency policy, read and replaced as versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path

from app.auth import CampaignsKey
from app.deps import RuntimeDep, SessionDep
from app.schemas.policy import PolicyDocument, PolicyPublic
from app.schemas.problems import problem_responses
from app.schemas.simulation import PolicyWhatIfRequest, WhatIf
from app.simulation import scratch
from orchestrator.errors import InvalidInput
from orchestrator.services.policies import PolicyService, defaulted, parse_policy
from orchestrator.simulation import what_if

router = APIRouter(
    prefix="/v1/policy", tags=["policy"], responses=problem_responses(400, 401, 403, 422)
)


def _service(session: SessionDep, runtime: RuntimeDep) -> PolicyService:
    return PolicyService(session, runtime.clock)


ServiceDep = Annotated[PolicyService, Depends(_service)]


@router.get("", response_model=PolicyPublic, response_model_exclude_none=True)
async def get_policy(service: ServiceDep, _key: CampaignsKey) -> PolicyPublic:
    """The policy in force."""
    return PolicyPublic.of(await service.current())


@router.put("", response_model=PolicyPublic, response_model_exclude_none=True)
async def replace_policy(
    document: Annotated[PolicyDocument, Body()], service: ServiceDep, key: CampaignsKey
) -> PolicyPublic:
    """Store a new version; every problem of the document is listed at once. The
    dispatcher decides under it from its next batch on, and records the version. The
    answer lists in `defaulted` what the document left out: `{}` is a policy without rules."""
    stored = await service.replace(parse_policy(document), key.name)
    return PolicyPublic.of(stored, defaulted=defaulted(document))


@router.get("/versions", response_model=list[PolicyPublic], response_model_exclude_none=True)
async def policy_versions(service: ServiceDep, _key: CampaignsKey) -> list[PolicyPublic]:
    """Every stored version, newest first."""
    return [PolicyPublic.of(version) for version in await service.versions()]


@router.get(
    "/versions/{version:int}",
    response_model=PolicyPublic,
    response_model_exclude_none=True,
    responses=problem_responses(404),
)
async def policy_version(
    version: Annotated[int, Path(ge=0, le=2**31 - 1)], service: ServiceDep, _key: CampaignsKey
) -> PolicyPublic:
    """One version (0: the default)."""
    return PolicyPublic.of(await service.version(version))


@router.post("/simulate", response_model=WhatIf)
async def simulate_policy(
    request: PolicyWhatIfRequest, session: SessionDep, runtime: RuntimeDep, _key: CampaignsKey
) -> WhatIf:
    """What-if: every active campaign under the policy in force and under `policy`, side by
    side per day, channel and campaign, on the same virtual clock and seed. `policy` is
    checked like `PUT /v1/policy` and never stored."""
    try:
        proposed = parse_policy(request.policy)
    except InvalidInput as exc:
        for error in exc.errors or []:
            error["loc"] = ["body", "policy", *error["loc"][1:]]
        raise
    return await what_if(
        session, runtime.clock, runtime.channels, await scratch(), proposed, request
    )
