"""A touch: one approach to a contact on one channel, or the policy decision that stopped it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Text, text
from sqlmodel import Field, SQLModel

from orchestrator.models.base import id_field, utc_field
from orchestrator.models.types import BigId, Json

__all__ = ["Touch"]


class Touch(SQLModel, table=True):
    """Every send, call task, letter and social message, and every block or defer decision.

    `idempotency_key` (enrollment, step entry, attempt) makes a re-run of the dispatcher a
    no-op. Statuses: `blocked` and `deferred` (decisions); `queued` (a task to claim, or a
    message to send at `retry_at`), `claimed` (a task a worker holds, or a message a sender
    took but has not started: its lease gives it back), `completed` (tasks), `sending`,
    `sent`, `failed` and `in_doubt` (messages).
    """

    __table_args__ = (
        # A contact's history, newest first: the policy's and the timeline's query.
        Index("ix_touch_contact_created", "contact_id", "created_at"),
        # Workers claim the oldest open task of a channel.
        Index("ix_touch_channel_status_created", "channel", "status", "created_at"),
        Index("ix_touch_campaign_step", "campaign_id", "step_id"),
        Index("ix_touch_message_id", "message_id"),
        Index("ix_touch_enrollment_id", "enrollment_id"),
        # The touch list, newest first: all of them, a campaign's, a binding rule's.
        Index("ix_touch_created", "created_at"),
        Index("ix_touch_campaign_created", "campaign_id", "created_at"),
        Index(
            "ix_touch_rule_created",
            "rule",
            "created_at",
            sqlite_where=text("rule IS NOT NULL"),
            postgresql_where=text("rule IS NOT NULL"),
        ),
        # Stats count the rules that held a touch without binding it: few touches have any.
        Index(
            "ix_touch_campaign_also_held",
            "campaign_id",
            sqlite_where=text("also_held IS NOT NULL"),
            postgresql_where=text("also_held IS NOT NULL"),
        ),
    )

    id: int | None = id_field()
    contact_id: int = Field(sa_column=Column(BigId, ForeignKey("contact.id"), nullable=False))
    enrollment_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("enrollment.id"), nullable=True)
    )
    campaign_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("campaign.id"), nullable=True)
    )
    campaign_version: int | None = Field(default=None, sa_column=Column(Integer))
    step_id: str | None = Field(default=None, sa_column=Column(String(100)))
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    category: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    weight: float = Field(sa_column=Column(Float, nullable=False))
    idempotency_key: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    rule: str | None = Field(default=None, sa_column=Column(String(100)))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    #: The rules besides `rule` that held a blocked or deferred touch, each with the time
    #: it alone would have let the touch through (null: never): `{"weekly": "2026-..."}`.
    #: An object, not an array: batch inserts send a column's values as one array.
    also_held: dict[str, str | None] | None = Field(default=None, sa_column=Column(Json))
    policy_version: int | None = Field(default=None, sa_column=Column(Integer))
    defer_until: datetime | None = utc_field(nullable=True)
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(Json, nullable=False))
    message_id: str | None = Field(default=None, sa_column=Column(String(255)))
    worker: str | None = Field(default=None, sa_column=Column(String(100)))
    #: The API key that leased the task: only it may act on the task while the lease lasts.
    claimed_by_key_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("api_key.id"), nullable=True)
    )
    lease_until: datetime | None = utc_field(nullable=True)
    retry_at: datetime | None = utc_field(nullable=True)
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    outcome: str | None = Field(default=None, sa_column=Column(String(64)))
    outcome_data: dict[str, Any] | None = Field(default=None, sa_column=Column(Json))
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = utc_field()
    updated_at: datetime = utc_field()
    sent_at: datetime | None = utc_field(nullable=True)
    completed_at: datetime | None = utc_field(nullable=True)
