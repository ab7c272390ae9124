"""A webhook receipt: a provider's event, or a one-time token, already taken in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from orchestrator.models.base import id_field, utc_field

__all__ = ["WebhookReceipt"]


class WebhookReceipt(SQLModel, table=True):
    """`key` (a hash of the provider's event id and recipient, or of a token) is unique per
    provider: a redelivered event changes nothing, a replayed token is refused."""

    __tablename__ = "webhook_receipt"
    __table_args__ = (UniqueConstraint("provider", "key"),)

    id: int | None = id_field()
    provider: str = Field(sa_column=Column(String(32), nullable=False))
    key: str = Field(sa_column=Column(String(64), nullable=False))
    received_at: datetime = utc_field()
