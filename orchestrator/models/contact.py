"""The contact aggregate: the person, their consent and preference logs and the suppressions
that guard them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict
from sqlalchemy import Column, ForeignKey, Index, String, text
from sqlmodel import Field, SQLModel

from orchestrator.models.base import id_field, object_field, text_field, utc_field
from orchestrator.models.instants import Instant
from orchestrator.models.types import BigId, Json
from policies.preferences import Preferences

__all__ = [
    "ConsentLog",
    "ConsentStatus",
    "Contact",
    "ContactBase",
    "ContactPreferences",
    "ContactProfile",
    "PreferenceLog",
    "PreferenceSource",
    "Suppression",
]

ConsentStatus = Literal["opted_in", "opted_out", "unknown"]

#: Where a preference change came from: the contact's own page, the API, a caller's call.
PreferenceSource = Literal["preference_center", "api", "call"]


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
    """A person Kizuna may approach; `consent` mirrors the newest log entry per channel,
    `preferences` the contact's current choices (changed only through the preference log)."""

    __table_args__ = (Index("ix_contact_email", "email"), Index("ix_contact_phone", "phone"))

    id: int | None = id_field()
    consent: dict[str, str] = object_field()
    # A `policies.preferences.Preferences` document (channels and topics; the pause is
    # `paused_until`), NULL while the contact chose nothing.
    preferences: dict[str, Any] | None = Field(default=None, sa_type=Json)
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


class ContactPreferences(Preferences):
    """The contact's own say, obeyed by every campaign, channel and caller; it only ever
    narrows what the policy allows.

    - `channels`, by channel name: `allowed: false` stops the channel (transactional
      touches too); `max` and `per` (`week`: the last 7 days, `month`: the last 30) cap
      the contact's marketing touches on it. A channel left out has no preference.
    - `topics`: the policy's topics the contact wants marketing about; a marketing
      campaign with another `topic` is blocked. null: every topic; `[]`: none.
    - `paused_until`: nothing marketing until then (the contact's `paused_until`: one pause,
      whoever sets it).

    Saying yes to a channel here is no consent: an `opt_in` channel still needs it.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channels": {
                        "email": {"allowed": True, "max": 2, "per": "month"},
                        "phone": {"allowed": False},
                    },
                    "topics": ["新製品"],
                    "paused_until": "2027-01-10T00:00:00+09:00",
                }
            ]
        }
    )

    paused_until: Instant | None = Field(
        default=None, description="nothing marketing until then (the contact's pause)"
    )


class PreferenceLog(SQLModel, table=True):
    """One append-only preference change: what changed (`channels.<name>`, `topics`,
    `paused_until`), from what to what, where it came from, the proof, and the touch whose
    link or call it came through."""

    __tablename__ = "preference_log"
    __table_args__ = (Index("ix_preference_log_contact_recorded", "contact_id", "recorded_at"),)

    id: int | None = id_field()
    contact_id: int = Field(sa_column=Column(BigId, ForeignKey("contact.id"), nullable=False))
    item: str = Field(sa_column=Column(String(64), nullable=False))
    old: Any = Field(default=None, sa_column=Column(Json, nullable=True))
    new: Any = Field(default=None, sa_column=Column(Json, nullable=True))
    source: str = Field(sa_column=Column(String(32), nullable=False))
    evidence: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(Json, nullable=False, server_default=text("'{}'"))
    )
    touch_id: int | None = Field(default=None, sa_column=Column(BigId, nullable=True))
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
