"""The campaign API's shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.definitions import CampaignDefinition
from orchestrator.services.campaigns import CampaignView

__all__ = [
    "CampaignList",
    "CampaignPublic",
    "CampaignStats",
    "CampaignSummary",
    "EnrollmentOutcome",
    "SkippedContact",
    "StepStats",
    "VersionPublic",
]

Status = Literal["draft", "active", "paused", "archived"]


class CampaignSummary(BaseModel):
    """A campaign as listed."""

    id: int
    name: str
    status: Status
    priority: int
    category: Literal["marketing", "transactional"]
    version: int = Field(description="the current version")
    created_at: datetime
    updated_at: datetime


class CampaignPublic(CampaignSummary):
    """A campaign with the definition of one version (the current one unless asked)."""

    definition: CampaignDefinition

    @classmethod
    def of(cls, view: CampaignView) -> CampaignPublic:
        campaign = view.campaign
        assert campaign.id is not None
        return cls(
            id=campaign.id,
            name=campaign.name,
            status=campaign.status,
            priority=campaign.priority,
            category=campaign.category,
            version=view.version,
            created_at=campaign.created_at,
            updated_at=campaign.updated_at,
            definition=CampaignDefinition.model_validate(view.definition),
        )


class CampaignList(BaseModel):
    """A page of campaigns; pass `next_after` as `after` for the next page."""

    items: list[CampaignSummary]
    next_after: int | None


class VersionPublic(BaseModel):
    version: int
    created_at: datetime


class SkippedContact(BaseModel):
    """A contact not enrolled: `not_found`, `already_enrolled` or `cooldown`."""

    contact_id: int | None
    external_id: str | None
    reason: str


class EnrollmentOutcome(BaseModel):
    """How many enrollments began, and every contact left out with the reason."""

    enrolled: int
    skipped_count: int
    skipped: list[SkippedContact]


class StepStats(BaseModel):
    """One step's numbers: touches by status, decisions by rule, task outcomes, events."""

    model_config = ConfigDict(from_attributes=True)

    step_id: str
    type: str = Field(description="the step's type; `retired` for a step no version has now")
    entered: int = Field(default=0, description="enrollments that reached this step")
    admitted: int = Field(default=0, description="touches the policy let through")
    deferred: int = Field(default=0, description="decisions that moved a touch later")
    blocked: int = Field(default=0, description="touches the policy refused")
    sent: int = Field(default=0, description="mails the relay accepted, tasks completed")
    failed: int = Field(default=0, description="touches that could not be delivered")
    retrying: int = Field(default=0, description="messages queued again after a failed attempt")
    in_doubt: int = Field(
        default=0, description="messages interrupted mid-send, awaiting `POST .../resolve`"
    )
    clicks: int = Field(default=0, description="tracked-link clicks on this step's touches")
    touches: dict[str, int] = Field(default_factory=dict, description="by status")
    blocked_by_rule: dict[str, int] = Field(
        default_factory=dict, description="blocked touches by their binding rule"
    )
    deferred_by_rule: dict[str, int] = Field(
        default_factory=dict, description="defer decisions by their binding rule"
    )
    blocked_also_by_rule: dict[str, int] = Field(
        default_factory=dict,
        description="blocked touches each rule also held while another rule bound them",
    )
    deferred_also_by_rule: dict[str, int] = Field(
        default_factory=dict,
        description="defer decisions each rule also held while another rule bound them",
    )
    outcomes: dict[str, int] = Field(default_factory=dict)
    events: dict[str, int] = Field(default_factory=dict, description="clicks, opens, ... by type")
    at_step: int = Field(default=0, description="enrollments standing on this step now")


class CampaignStats(BaseModel):
    """Where a campaign's contacts are and what its steps did."""

    model_config = ConfigDict(from_attributes=True)

    enrollments: dict[str, int] = Field(description="by state")
    retrying: int = Field(description="messages of every step waiting for another attempt")
    in_doubt: int = Field(description="messages of every step interrupted mid-send")
    steps: list[StepStats]
