"""The API key admin API's shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.models.checks import storable
from orchestrator.services.api_keys import Scope

__all__ = ["ApiKeyCreate", "ApiKeyCreated", "ApiKeyPublic"]


class ApiKeyCreate(BaseModel):
    """A key to make: who it is for and what it may do."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)

    @field_validator("name", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class ApiKeyPublic(BaseModel):
    """A key as listed: never its secret, only the first characters to recognise it by."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    """A new key, with its secret in `key`: shown this once, stored only as a hash."""

    key: str
