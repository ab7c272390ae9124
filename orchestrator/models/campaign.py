"""The campaign aggregate: a named definition and its frozen versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from orchestrator.models.base import id_field, utc_field
from orchestrator.models.types import BigId, Json

__all__ = ["Campaign", "CampaignVersion"]


class Campaign(SQLModel, table=True):
    """A campaign's identity and lifecycle; its steps live in `CampaignVersion`."""

    id: int | None = id_field()
    name: str = Field(sa_column=Column(String(200), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    priority: int = Field(sa_column=Column(Integer, nullable=False))
    category: str = Field(sa_column=Column(String(16), nullable=False))
    current_version: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: datetime = utc_field()
    updated_at: datetime = utc_field()


class CampaignVersion(SQLModel, table=True):
    """One frozen definition of a campaign; enrollments run on the version they began on."""

    __tablename__ = "campaign_version"
    __table_args__ = (UniqueConstraint("campaign_id", "version"),)

    id: int | None = id_field()
    campaign_id: int = Field(sa_column=Column(BigId, ForeignKey("campaign.id"), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    definition: dict[str, Any] = Field(sa_column=Column(Json, nullable=False))
    created_at: datetime = utc_field()
