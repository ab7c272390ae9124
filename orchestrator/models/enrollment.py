"""An enrollment: one contact's enrollment through one campaign version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, text
from sqlmodel import Field, SQLModel

from orchestrator.models.base import id_field, utc_field
from orchestrator.models.types import BigId, UTCDateTime

__all__ = ["Enrollment"]


class Enrollment(SQLModel, table=True):
    """Where a contact stands in a campaign and when the engine looks at it next.

    `state` is `active`, `paused` (its campaign is paused), `completed`, `exited` or
    `failed`. `step_seq` counts the steps entered, so a step entered again (a loop) makes
    new touches; `attempt` counts the policy's decisions on the current step.
    """

    __table_args__ = (
        # The dispatcher's hot query: active enrollments due by time.
        Index(
            "ix_enrollment_due",
            "next_action_at",
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        # Its first look: enrollments waiting for an event, due now that it came.
        Index(
            "ix_enrollment_waiting_due",
            "next_action_at",
            sqlite_where=text("state = 'active' AND awaiting_event"),
            postgresql_where=text("state = 'active' AND awaiting_event"),
        ),
        Index("ix_enrollment_contact_id", "contact_id"),
        # One running enrollment per contact and campaign, whoever enrolls them at once.
        Index(
            "uq_enrollment_running",
            "campaign_id",
            "contact_id",
            unique=True,
            sqlite_where=text("state IN ('active', 'paused')"),
            postgresql_where=text("state IN ('active', 'paused')"),
        ),
        Index("ix_enrollment_campaign_state", "campaign_id", "state"),
    )

    id: int | None = id_field()
    campaign_id: int = Field(sa_column=Column(BigId, ForeignKey("campaign.id"), nullable=False))
    campaign_version: int = Field(sa_column=Column(Integer, nullable=False))
    contact_id: int = Field(sa_column=Column(BigId, ForeignKey("contact.id"), nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    step_id: str | None = Field(default=None, sa_column=Column(String(100)))
    step_entered_at: datetime | None = utc_field(nullable=True)
    step_seq: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    attempt: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    awaiting_event: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    next_action_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    exit_reason: str | None = Field(default=None, sa_column=Column(String(64)))
    created_at: datetime = utc_field()
    updated_at: datetime = utc_field()
    finished_at: datetime | None = utc_field(nullable=True)
