"""Values an installation generates once and every process must share (the signing secret)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from orchestrator.models.base import utc_field

__all__ = ["InstallationValue"]


class InstallationValue(SQLModel, table=True):
    """A named value of this installation, such as the generated `secret_key`."""

    __tablename__ = "installation_value"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = utc_field()
