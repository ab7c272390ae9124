"""The timeline's entries: touches with their decisions, events, consent changes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from orchestrator.models.contact import ConsentStatus
from orchestrator.services.timeline import TimelineEntry

__all__ = ["Timeline", "entry_schema"]


class TouchEntry(BaseModel):
    """An approach, or the policy decision that held it back (`blocked`, `deferred`)."""

    kind: Literal["touch"] = "touch"
    at: datetime
    id: int
    campaign_id: int | None
    step_id: str | None
    channel: str
    status: str
    rule: str | None = Field(description="the policy rule behind a block or defer")
    reason: str | None = Field(description="the decision in a sentence")
    policy_version: int | None
    defer_until: datetime | None
    outcome: str | None
    attempts: int = Field(description="delivery attempts made so far")
    error: str | None = Field(description="why the last attempt failed (a retry or a failure)")
    retry_at: datetime | None = Field(description="when a message waiting for a retry goes next")


class EventEntry(BaseModel):
    """Something that happened: a click, a bounce, a call outcome, a custom event."""

    kind: Literal["event"] = "event"
    at: datetime
    id: int
    type: str
    source: str
    touch_id: int | None
    data: dict[str, Any]


class ConsentEntry(BaseModel):
    """A change of consent on a channel, with its proof."""

    kind: Literal["consent"] = "consent"
    at: datetime
    id: int
    channel: str
    status: ConsentStatus
    source: str
    evidence: dict[str, Any]


Entry = Annotated[TouchEntry | EventEntry | ConsentEntry, Field(discriminator="kind")]

_SCHEMAS: dict[str, type[TouchEntry | EventEntry | ConsentEntry]] = {
    "touch": TouchEntry,
    "event": EventEntry,
    "consent": ConsentEntry,
}


class Timeline(BaseModel):
    """Newest first; pass `next_cursor` as `cursor` for older entries."""

    items: list[Entry]
    next_cursor: str | None


def entry_schema(entry: TimelineEntry) -> TouchEntry | EventEntry | ConsentEntry:
    """The response shape of one timeline entry."""
    schema = _SCHEMAS[entry.kind]
    fields = {
        name: getattr(entry.row, name) for name in schema.model_fields if name not in ("kind", "at")
    }
    fields["at"] = entry.at
    return schema.model_validate(fields)
