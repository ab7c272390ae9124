"""The contact API's responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.schemas.problems import ProblemDetail
from orchestrator.models import PostalAddress
from orchestrator.models.checks import storable
from orchestrator.models.contact import ConsentStatus, ContactBase, ContactPreferences
from policies.preferences import Preferences

__all__ = [
    "BulkUpsertResult",
    "ConsentEntryPublic",
    "ContactList",
    "ContactPublic",
    "PreferencesUpdate",
    "RowProblem",
]


class ContactPublic(ContactBase):
    """A contact as the API shows it, with its current consent per channel."""

    # Every field is in every answer: the schema says so of those with a default too.
    # (SQLModel types its config as a ConfigDict of its own, with two keys more.)
    model_config = ConfigDict(  # type: ignore[assignment]
        from_attributes=True, json_schema_serialization_defaults_required=True
    )

    id: int
    # The stored document, as clients gave it (a different type on purpose).
    address: PostalAddress | None = None  # type: ignore[assignment]
    consent: dict[str, ConsentStatus]
    preferences: Preferences | None = Field(
        description="the contact's own choices of channels and topics (null: none); its "
        "pause is `paused_until`; set with `PUT /v1/contacts/{id}/preferences`"
    )
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


class PreferencesUpdate(ContactPreferences):
    """The contact's preferences, whole: what the body leaves out is cleared. The change is
    logged with source `api` and the `evidence` given."""

    evidence: dict[str, Any] = Field(
        default_factory=dict, description="how they were given: a form, a mail, who took them"
    )

    @field_validator("evidence", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)

    def chosen(self) -> ContactPreferences:
        """The preferences without the evidence."""
        return ContactPreferences(
            channels=self.channels, topics=self.topics, paused_until=self.paused_until
        )
