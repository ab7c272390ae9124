"""`/v1/keys`: create, list and revoke API keys (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from app.auth import AdminKey
from app.deps import RuntimeDep, SessionDep
from app.schemas.keys import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from app.schemas.problems import problem_responses
from orchestrator.services.api_keys import ApiKeyService

router = APIRouter(
    prefix="/v1/keys", tags=["keys"], responses=problem_responses(400, 401, 403, 422)
)


def _service(session: SessionDep, runtime: RuntimeDep) -> ApiKeyService:
    return ApiKeyService(session, runtime.clock)


ServiceDep = Annotated[ApiKeyService, Depends(_service)]
KeyId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=problem_responses(413),
)
async def create_key(payload: ApiKeyCreate, service: ServiceDep, _key: AdminKey) -> ApiKeyCreated:
    """Make a key; its secret is in `key`, shown only in this answer."""
    record, secret = await service.create(payload.name, payload.scopes)
    return ApiKeyCreated.model_validate({**record.model_dump(), "key": secret})


@router.get("", response_model=list[ApiKeyPublic])
async def list_keys(service: ServiceDep, _key: AdminKey) -> list[ApiKeyPublic]:
    """Every key, newest first, revoked ones included."""
    return [ApiKeyPublic.model_validate(record) for record in await service.list()]


@router.delete("/{key_id:int}", response_model=ApiKeyPublic, responses=problem_responses(404, 409))
async def revoke_key(key_id: KeyId, service: ServiceDep, _key: AdminKey) -> ApiKeyPublic:
    """Revoke a key: it stops working at once; the record stays for the audit trail. The last
    active admin key cannot be revoked (409): nobody could manage keys without it."""
    return ApiKeyPublic.model_validate(await service.revoke(key_id))
