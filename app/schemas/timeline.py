"""The timeline's entries: touches with their decisions, events, consent and preference
changes, and enrollments starting and ending."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from orchestrator.models.contact import ConsentStatus
from orchestrator.services.timeline import TimelineEntry

__all__ = ["Timeline", "entry_schema"]


class TouchEntry(BaseModel):
    """An approach, or the policy decision that held it back (`blocked`, `deferred`). `at`
    is when it was made (`created_at`); a message sent later has its `sent_at`."""

    kind: Literal["touch"] = "touch"
    at: datetime
    id: int
    campaign_id: int | None
    campaign_name: str | None
    step_id: str | None
    channel: str
    status: str
    rule: str | None = Field(description="the binding rule of a block or defer: it frees last")
    also_held: dict[str, datetime | None] = Field(
        description="the other rules that held the touch, each with the time it alone would "
        "have let the touch through (null: never)"
    )
    reason: str | None = Field(description="the decision in a sentence, naming every rule")
    policy_version: int | None
    defer_until: datetime | None
    outcome: str | None
    notes: str | None = Field(description="what the worker wrote on completing the task")
    attempts: int = Field(description="delivery attempts made so far")
    error: str | None = Field(description="why the last attempt failed (a retry or a failure)")
    retry_at: datetime | None = Field(description="when a message waiting for a retry goes next")
    created_at: datetime
    sent_at: datetime | None = Field(description="when the relay accepted the message")
    completed_at: datetime | None = Field(description="when a worker completed the task")

    @classmethod
    def of(cls, entry: TimelineEntry) -> TouchEntry:
        touch = entry.row
        derived = ("kind", "at", "campaign_name", "also_held", "notes")
        fields = {name: getattr(touch, name) for name in cls.model_fields if name not in derived}
        notes = (touch.outcome_data or {}).get("notes")
        return cls(
            **fields,
            at=entry.at,
            campaign_name=entry.campaign_name,
            also_held=touch.also_held or {},
            notes=notes if isinstance(notes, str) else None,
        )


class EventEntry(BaseModel):
    """Something that happened: a click, a bounce, a call outcome, a custom event."""

    kind: Literal["event"] = "event"
    at: datetime
    id: int
    type: str
    source: str
    touch_id: int | None
    data: dict[str, Any]

    @classmethod
    def of(cls, entry: TimelineEntry) -> EventEntry:
        return cls(**_columns(cls, entry), at=entry.at)


class ConsentEntry(BaseModel):
    """A change of consent on a channel, with its proof."""

    kind: Literal["consent"] = "consent"
    at: datetime
    id: int
    channel: str
    status: ConsentStatus
    source: str
    evidence: dict[str, Any]

    @classmethod
    def of(cls, entry: TimelineEntry) -> ConsentEntry:
        return cls(**_columns(cls, entry), at=entry.at)


class PreferenceEntry(BaseModel):
    """A change the contact made to its preferences: `item` (`channels.<name>`, `topics`,
    `paused_until`) from `old` to `new` (null: no preference), where it came from
    (`preference_center`, `api`, `call`), the proof, and the touch it came through."""

    kind: Literal["preference"] = "preference"
    at: datetime
    id: int
    item: str
    old: Any
    new: Any
    source: str
    evidence: dict[str, Any]
    touch_id: int | None

    @classmethod
    def of(cls, entry: TimelineEntry) -> PreferenceEntry:
        return cls(**_columns(cls, entry), at=entry.at)


class EnrollmentEntry(BaseModel):
    """The contact entered a campaign (`started`), or left it: `completed` (after its last
    step), `exited` (`reason`: `goal`, `archived`, `erased`, `blocked` for a send step's
    `on_blocked: exit`, `exit_step`) or `failed` (`reason` says where)."""

    kind: Literal["enrollment"] = "enrollment"
    at: datetime
    id: int = Field(description="the enrollment's id")
    change: Literal["started", "completed", "exited", "failed"]
    reason: str | None
    campaign_id: int
    campaign_name: str | None
    campaign_version: int

    @classmethod
    def of(cls, entry: TimelineEntry) -> EnrollmentEntry:
        enrollment = entry.row
        started = entry.kind == "enrollment_started"
        return cls(
            at=entry.at,
            id=enrollment.id,
            change="started" if started else enrollment.state,
            reason=None if started else enrollment.exit_reason,
            campaign_id=enrollment.campaign_id,
            campaign_name=entry.campaign_name,
            campaign_version=enrollment.campaign_version,
        )


def _columns(schema: type[BaseModel], entry: TimelineEntry) -> dict[str, Any]:
    """The row's values of the schema's fields, but `kind` and `at`."""
    return {n: getattr(entry.row, n) for n in schema.model_fields if n not in ("kind", "at")}


AnyEntry = TouchEntry | EventEntry | ConsentEntry | PreferenceEntry | EnrollmentEntry
Entry = Annotated[AnyEntry, Field(discriminator="kind")]

_SCHEMAS: dict[str, type[AnyEntry]] = {
    "touch": TouchEntry,
    "event": EventEntry,
    "consent": ConsentEntry,
    "preference": PreferenceEntry,
    "enrollment_started": EnrollmentEntry,
    "enrollment_ended": EnrollmentEntry,
}


class Timeline(BaseModel):
    """Newest first; pass `next_cursor` as `cursor` for older entries."""

    items: list[Entry]
    next_cursor: str | None


def entry_schema(entry: TimelineEntry) -> AnyEntry:
    """The response shape of one timeline entry."""
    return _SCHEMAS[entry.kind].of(entry)
