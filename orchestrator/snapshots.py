"""A contact row as plain data: for channel adapters, templates and conditions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from channels.base import ContactSnapshot
from channels.registry import channel_class, channel_names
from orchestrator.contact_fields import address_hash
from orchestrator.models import Suppression

__all__ = [
    "ContactLike",
    "address_hashes",
    "contact_fields",
    "snapshot",
    "suppressed_channels",
    "template_context",
]


class ContactLike(Protocol):
    """What these functions read of a contact: the ORM row or the dispatcher's record."""

    @property
    def id(self) -> int | None: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def address(self) -> dict[str, Any] | None: ...
    @property
    def social(self) -> dict[str, str]: ...
    @property
    def timezone(self) -> str: ...
    @property
    def locale(self) -> str | None: ...
    @property
    def attributes(self) -> dict[str, Any]: ...


def snapshot(contact: ContactLike) -> ContactSnapshot:
    """The contact as adapters see it."""
    assert contact.id is not None
    return ContactSnapshot(
        id=contact.id,
        external_id=contact.external_id,
        email=contact.email,
        phone=contact.phone,
        address=contact.address,
        social=contact.social,
        timezone=contact.timezone,
        locale=contact.locale,
        attributes=contact.attributes,
    )


def contact_fields(contact: ContactLike) -> dict[str, Any]:
    """The contact's fields as conditions read them (`field`, `attribute`)."""
    return {
        "external_id": contact.external_id,
        "email": contact.email,
        "phone": contact.phone,
        "address": contact.address,
        "social": contact.social,
        "timezone": contact.timezone,
        "locale": contact.locale,
        "attributes": contact.attributes,
    }


def template_context(contact: ContactSnapshot, campaign: dict[str, Any]) -> dict[str, Any]:
    """What a template may read: `contact.*` and `campaign.*`."""
    return {
        "contact": {
            "id": contact.id,
            "external_id": contact.external_id,
            "email": contact.email,
            "phone": contact.phone,
            "address": dict(contact.address or {}),
            "social": dict(contact.social),
            "timezone": contact.timezone,
            "locale": contact.locale,
            "attributes": dict(contact.attributes),
        },
        "campaign": campaign,
    }


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
