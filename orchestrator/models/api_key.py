"""API keys: only a hash of each key is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from orchestrator.models.base import id_field, utc_field
from orchestrator.models.types import Json

__all__ = ["ApiKey"]


class ApiKey(SQLModel, table=True):
    """A client's credential: its scopes, and the SHA-256 of the secret it presents."""

    __tablename__ = "api_key"

    id: int | None = id_field()
    name: str = Field(sa_column=Column(String(100), nullable=False))
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    key_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    scopes: list[str] = Field(sa_column=Column(Json, nullable=False))
    created_at: datetime = utc_field()
    last_used_at: datetime | None = utc_field(nullable=True)
    revoked_at: datetime | None = utc_field(nullable=True)
