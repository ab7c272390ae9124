"""An event: something that happened to a contact, from a provider, a worker or a client."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from orchestrator.models.base import id_field, utc_field
from orchestrator.models.types import BigId, Json

__all__ = ["Event"]


class Event(SQLModel, table=True):
    """A delivered, open, click, bounce, outcome or custom event; `dedupe_key` is unique."""

    __table_args__ = (
        Index("ix_event_contact_occurred", "contact_id", "occurred_at"),
        Index("ix_event_touch_id", "touch_id"),
    )

    id: int | None = id_field()
    contact_id: int = Field(sa_column=Column(BigId, ForeignKey("contact.id"), nullable=False))
    type: str = Field(sa_column=Column(String(64), nullable=False))
    dedupe_key: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    touch_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("touch.id"), nullable=True)
    )
    source: str = Field(sa_column=Column(String(64), nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(Json, nullable=False))
    occurred_at: datetime = utc_field()
    received_at: datetime = utc_field()
