"""Touches as the API shows them: the touch list, and an operator's answer for a touch in
doubt with where the touch stands after it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.services.touch_list import ListedTouch, TouchPage
from orchestrator.services.touches import Resolution

__all__ = ["TouchList", "TouchListed", "TouchResolution", "TouchStatus"]


class TouchResolution(BaseModel):
    """`sent`: it went out (the relay's log says so); `resend`: send it again."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    resolution: Resolution = Field(alias="as")


class TouchStatus(BaseModel):
    """A touch's state after the operator's answer."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    contact_id: int
    campaign_id: int | None
    step_id: str | None
    channel: str
    status: str
    attempts: int
    message_id: str | None
    sent_at: datetime | None
    updated_at: datetime


class TouchListed(BaseModel):
    """A touch: what went out, or the policy's decision that held it back, and what became
    of it."""

    id: int
    contact_id: int
    campaign_id: int | None
    campaign_name: str | None
    campaign_version: int | None
    step_id: str | None
    channel: str
    category: str
    status: str
    rule: str | None = Field(description="the binding rule of a block or defer: it frees last")
    also_held: dict[str, datetime | None] = Field(
        description="the other rules that held the touch, each with the time it alone would "
        "have let the touch through (null: never)"
    )
    reason: str | None = Field(description="the decision in a sentence, naming every rule")
    policy_version: int | None
    defer_until: datetime | None
    attempts: int = Field(description="delivery attempts made so far")
    error: str | None = Field(description="why the last attempt failed (a retry or a failure)")
    retry_at: datetime | None = Field(description="when a message waiting for a retry goes next")
    outcome: str | None = Field(description="a task's outcome, as its worker reported it")
    created_at: datetime
    sent_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, listed: ListedTouch) -> TouchListed:
        touch = listed.touch
        fields = {
            name: getattr(touch, name)
            for name in cls.model_fields
            if name not in ("campaign_name", "also_held")
        }
        return cls.model_validate(
            {**fields, "campaign_name": listed.campaign_name, "also_held": touch.also_held or {}}
        )


class TouchList(BaseModel):
    """Newest first; pass `next_cursor` as `cursor` for older touches."""

    items: list[TouchListed]
    next_cursor: str | None

    @classmethod
    def of(cls, page: TouchPage) -> TouchList:
        return cls(items=[TouchListed.of(t) for t in page.touches], next_cursor=page.next_cursor)
