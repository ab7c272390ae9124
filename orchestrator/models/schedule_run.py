"""The record that a campaign's schedule fired: at most one enrollment run per fire time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from orchestrator.models.base import id_field, utc_field
from orchestrator.models.types import BigId

__all__ = ["ScheduleRun"]


class ScheduleRun(SQLModel, table=True):
    """One firing of a campaign's cron; the unique key lets one process of many run it."""

    __tablename__ = "schedule_run"
    __table_args__ = (UniqueConstraint("campaign_id", "fire_time"),)

    id: int | None = id_field()
    campaign_id: int = Field(sa_column=Column(BigId, ForeignKey("campaign.id"), nullable=False))
    fire_time: datetime = utc_field()
    enrolled: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    created_at: datetime = utc_field()
