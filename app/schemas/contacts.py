"""The contact API's responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.problems import ProblemDetail
from orchestrator.models import PostalAddress
from orchestrator.models.contact import ConsentStatus

__all__ = [
    "BulkUpsertResult",
    "ConsentEntryPublic",
    "ContactList",
    "ContactPublic",
    "RowProblem",
]


class ContactPublic(BaseModel):
    """A contact as the API shows it, with its current consent per channel."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    external_id: str | None
    email: str | None
    phone: str | None
    address: PostalAddress | None
    social: dict[str, str]
    timezone: str
    locale: str | None
    paused_until: datetime | None
    attributes: dict[str, Any]
    consent: dict[str, ConsentStatus]
    created_at: datetime
    updated_at: datetime


class ContactList(BaseModel):
    """A page of contacts; pass `next_after` as `after` for the next page."""

    items: list[ContactPublic]
    next_after: int | None


class RowProblem(BaseModel):
    """A rejected row of a bulk request: its position, its key if readable, its problems."""

    index: int = Field(description="0-based position of the row (NDJSON: the line)")
    external_id: str | None
    errors: list[ProblemDetail]


class BulkUpsertResult(BaseModel):
    """What a bulk upsert stored, and every row it did not with the reasons."""

    received: int
    created: int
    updated: int
    failed: int
    errors: list[RowProblem]


class ConsentEntryPublic(BaseModel):
    """One entry of a contact's consent log."""

    model_config = ConfigDict(from_attributes=True)

    channel: str
    status: ConsentStatus
    source: str
    evidence: dict[str, Any]
    recorded_at: datetime
