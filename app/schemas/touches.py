"""An operator's answer for a touch in doubt, and where the touch stands after it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.services.touches import Resolution

__all__ = ["TouchResolution", "TouchStatus"]


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
