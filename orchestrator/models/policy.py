"""The contact-frequency policy: one versioned document for the whole installation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, String
from sqlmodel import Field, SQLModel

from orchestrator.models.base import utc_field
from orchestrator.models.types import Json

__all__ = ["PolicyVersion"]


class PolicyVersion(SQLModel, table=True):
    """One saved policy document; the highest version is in force."""

    __tablename__ = "policy_version"

    version: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    document: dict[str, Any] = Field(sa_column=Column(Json, nullable=False))
    created_by: str | None = Field(default=None, sa_column=Column(String(100)))
    created_at: datetime = utc_field()
