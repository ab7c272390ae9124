"""A contact row as plain data: for channel adapters, templates, conditions and the policy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime
from operator import attrgetter
from typing import Any, Protocol, get_args, get_origin

from channels.base import ContactSnapshot
from channels.registry import channel_class, channel_names
from orchestrator.contact_fields import address_hash
from orchestrator.models import Suppression
from orchestrator.models.contact import ContactProfile
from policies import ContactFacts
from policies.preferences import Preferences

__all__ = [
    "ContactLike",
    "address_hashes",
    "contact_facts",
    "contact_fields",
    "preferences_of",
    "snapshot",
    "suppressed_channels",
    "template_context",
]


class ContactLike(Protocol):
    """What these functions read of a contact (the ORM row or the engine's record): the id
    and time zone by name, the rest of the profile by the names of `ContactProfile`'s fields."""

    @property
    def id(self) -> int | None: ...
    @property
    def timezone(self) -> str: ...


class FactsSource(ContactLike, Protocol):
    """What the policy reads of a contact besides its id and zone."""

    @property
    def consent(self) -> dict[str, str]: ...
    @property
    def paused_until(self) -> datetime | None: ...
    @property
    def preferences(self) -> dict[str, Any] | None: ...


_PROFILE_FIELDS = tuple(ContactProfile.model_fields)
_profile = attrgetter(*_PROFILE_FIELDS)
_snapshot_fields = attrgetter(*(field.name for field in fields(ContactSnapshot)))

#: The profile's JSON documents: templates read them as plain dicts, a missing one as `{}`.
_DOCUMENTS = tuple(
    name
    for name, field in ContactProfile.model_fields.items()
    if dict in {get_origin(t) for t in (field.annotation, *get_args(field.annotation))}
)


def snapshot(contact: ContactLike) -> ContactSnapshot:
    """The contact as adapters see it."""
    assert contact.id is not None
    return ContactSnapshot(*_snapshot_fields(contact))


def preferences_of(contact: FactsSource) -> Preferences | None:
    """The contact's stored preferences, read (None while it chose nothing)."""
    stored = contact.preferences
    return None if not stored else Preferences.model_validate(stored)


def contact_facts(contact: FactsSource, suppressed: frozenset[str] = frozenset()) -> ContactFacts:
    """What the policy knows of the contact: its zone, consent, pause and preferences, and
    the channels on which it is `suppressed`."""
    return ContactFacts(
        timezone=contact.timezone,
        consent=contact.consent,
        paused_until=contact.paused_until,
        suppressed=suppressed,
        preferences=preferences_of(contact),
    )


def contact_fields(contact: ContactLike) -> dict[str, Any]:
    """The contact's fields as conditions read them (`field`, `attribute`)."""
    return dict(zip(_PROFILE_FIELDS, _profile(contact), strict=True))


def template_context(contact: ContactSnapshot, campaign: dict[str, Any]) -> dict[str, Any]:
    """What a template may read: `contact.*` and `campaign.*`."""
    readable = {"id": contact.id, **contact_fields(contact)}
    readable.update((name, dict(readable[name] or {})) for name in _DOCUMENTS)
    return {"contact": readable, "campaign": campaign}


def address_hashes(contact: ContactLike) -> dict[str, set[str]]:
    """The hashes a suppression of each registered channel would carry for this contact's
    addresses: each channel says under which keys it knows them."""
    seen = snapshot(contact)
    hashes: dict[str, set[str]] = {}
    for name in channel_names():
        keys = channel_class(name).suppression_keys(seen)
        if keys:
            hashes[name] = {address_hash(name, key) for key in keys}
    return hashes


def suppressed_channels(
    contact: ContactLike, hashes: dict[str, set[str]], suppressions: Iterable[Suppression]
) -> frozenset[str]:
    """The channels (or `*`) on which a suppression holds the contact back: one recorded
    against the contact, or against one of its addresses (`hashes`, by channel)."""
    return frozenset(
        row.channel
        for row in suppressions
        if row.contact_id == contact.id
        or any(
            row.address_hash in found
            for channel, found in hashes.items()
            if row.channel in ("*", channel)
        )
    )
