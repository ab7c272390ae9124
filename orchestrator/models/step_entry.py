"""How many enrollments entered each step of a campaign (for its stats)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from orchestrator.models.types import BigId

__all__ = ["StepEntry"]


class StepEntry(SQLModel, table=True):
    """A running count per (campaign, step id), added to by each dispatcher batch."""

    __tablename__ = "step_entry"

    campaign_id: int = Field(
        sa_column=Column(BigId, ForeignKey("campaign.id"), primary_key=True, autoincrement=False)
    )
    step_id: str = Field(sa_column=Column(String(100), primary_key=True))
    entered: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
