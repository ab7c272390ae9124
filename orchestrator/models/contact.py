"""The contact aggregate: the person, their consent log and the suppressions that guard them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Column, ForeignKey, Index, String, text
from sqlmodel import Field, SQLModel

from orchestrator.models.base import id_field, object_field, text_field, utc_field
from orchestrator.models.instants import Instant
from orchestrator.models.types import BigId, Json

__all__ = [
    "ConsentLog",
    "ConsentStatus",
    "Contact",
    "ContactBase",
    "ContactProfile",
    "Suppression",
]

ConsentStatus = Literal["opted_in", "opted_out", "unknown"]


class ContactProfile(SQLModel):
    """Who the contact is and where they are reached: what conditions, templates and channel
    adapters read of a contact (adapters as a `ContactSnapshot`: the id and these fields).

    The root of the contact models: a field declared here (and migrated) is in the table,
    the upsert, the API's answers, the engine's records, conditions and templates; the
    channels' `ContactSnapshot`, which cannot import it, is held to it by a test.
    """

    external_id: str | None = text_field(255, default=None, unique=True)
    email: str | None = text_field(320, default=None)
    # `locale` comes before `phone`: an upsert reads national numbers in the locale's region.
    locale: str | None = text_field(35, default=None)
    phone: str | None = text_field(32, default=None)
    address: dict[str, Any] | None = Field(default=None, sa_type=Json)
    social: dict[str, str] = object_field(
        description='handles by network, such as `{"x": "@sato"}`; any lower-case network '
        "name is kept, and the `sns` channel reaches those it knows: linkedin, x, facebook, "
        "instagram"
    )
    timezone: str = text_field(64)
    attributes: dict[str, Any] = object_field()


class ContactBase(ContactProfile):
    """What a client may set on a contact: its profile, and a pause."""

    paused_until: Instant | None = utc_field(nullable=True)


class Contact(ContactBase, table=True):
    """A person Kizuna may approach; `consent` mirrors the newest log entry per channel."""

    __table_args__ = (Index("ix_contact_email", "email"), Index("ix_contact_phone", "phone"))

    id: int | None = id_field()
    consent: dict[str, str] = object_field()
    created_at: datetime = utc_field()
    updated_at: datetime = utc_field()
    erased_at: datetime | None = utc_field(nullable=True)


class ConsentLog(SQLModel, table=True):
    """One append-only consent record: who said what about which channel, and the proof."""

    __tablename__ = "consent_log"
    __table_args__ = (Index("ix_consent_log_contact_recorded", "contact_id", "recorded_at"),)

    id: int | None = id_field()
    contact_id: int = Field(sa_column=Column(BigId, ForeignKey("contact.id"), nullable=False))
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    source: str = Field(sa_column=Column(String(255), nullable=False))
    evidence: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(Json, nullable=False, server_default=text("'{}'"))
    )
    recorded_at: datetime = utc_field()


class Suppression(SQLModel, table=True):
    """An address (kept only as a hash) or a whole contact never to be approached on a channel.

    `channel` is a channel name or `*` for every channel.
    """

    __table_args__ = (
        Index(
            "uq_suppression_channel_address_hash",
            "channel",
            "address_hash",
            unique=True,
            sqlite_where=text("address_hash IS NOT NULL"),
            postgresql_where=text("address_hash IS NOT NULL"),
        ),
        Index(
            "uq_suppression_channel_contact_id",
            "channel",
            "contact_id",
            unique=True,
            sqlite_where=text("contact_id IS NOT NULL"),
            postgresql_where=text("contact_id IS NOT NULL"),
        ),
        Index("ix_suppression_contact_id", "contact_id"),
    )

    id: int | None = id_field()
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    address_hash: str | None = Field(default=None, sa_column=Column(String(64)))
    contact_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("contact.id"), nullable=True)
    )
    reason: str = Field(sa_column=Column(String(32), nullable=False))
    source: str = Field(sa_column=Column(String(255), nullable=False))
    created_at: datetime = utc_field()
