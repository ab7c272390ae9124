"""Bearer API keys and scopes: 401 without a valid key, 403 without the route's scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.deps import RuntimeDep, SessionDep
from orchestrator.models import ApiKey
from orchestrator.services.api_keys import ApiKeyService, Scope

__all__ = ["AdminKey", "CampaignsKey", "EventsKey", "WorkerKey", "require_scope"]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer kz_...`")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def require_scope(scope: Scope) -> object:
    """A dependency that returns the caller's key if it has `scope` (or `admin`)."""

    async def check(
        runtime: RuntimeDep,
        session: SessionDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiKey:
        if credentials is None:
            raise HTTPException(
                401, "Send an API key as `Authorization: Bearer <key>`.", _CHALLENGE
            )
        key = await ApiKeyService(session, runtime.clock).authenticate(credentials.credentials)
        if key is None:
            raise HTTPException(401, "The API key is unknown or revoked.", _CHALLENGE)
        if scope not in key.scopes and "admin" not in key.scopes:
            raise HTTPException(403, f"This route needs an API key with the `{scope}` scope.")
        return key

    return Depends(check)


AdminKey = Annotated[ApiKey, require_scope("admin")]
CampaignsKey = Annotated[ApiKey, require_scope("campaigns")]
WorkerKey = Annotated[ApiKey, require_scope("worker")]
EventsKey = Annotated[ApiKey, require_scope("events")]
