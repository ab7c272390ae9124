"""Postmark's webhooks: no signature, HTTP Basic auth on the URL; `RecordType` tells them apart."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any

from channels.email.providers.base import (
    BounceType,
    EventType,
    InvalidSignature,
    ProviderEvent,
    UnreadablePayload,
    Verified,
    angle_message_id,
    load_json,
    parse_instant,
)

__all__ = ["PostmarkVerifier"]

#: Record type → (event, the field naming the recipient, the field with its time).
_RECORDS: dict[str, tuple[EventType, str, str]] = {
    "Delivery": ("delivered", "Recipient", "DeliveredAt"),
    "Bounce": ("bounce", "Email", "BouncedAt"),
    "SpamComplaint": ("complaint", "Email", "BouncedAt"),
    "Open": ("open", "Recipient", "ReceivedAt"),
    "Click": ("click", "Recipient", "ReceivedAt"),
    "SubscriptionChange": ("unsubscribe", "Recipient", "ChangedAt"),
}
#: Bounce types that say the address is dead, and those that say "not now". The others
#: (auto-responders, challenge mails, ...) are not bounces of the message at all.
_HARD = frozenset({"HardBounce", "BadEmailAddress"})
_SOFT = frozenset({"SoftBounce", "Transient", "DnsError"})


class PostmarkVerifier:
    """Compares the `Authorization: Basic` credentials with the configured ones, in
    constant time, user and password both."""

    def __init__(self, username: str, password: str) -> None:
        self._username = username.encode()
        self._password = password.encode()

    async def verify(self, headers: Mapping[str, str], body: bytes) -> Verified:
        self.check(headers)
        event = parse_event(load_json(body))
        return Verified(events=() if event is None else (event,))

    def check(self, headers: Mapping[str, str]) -> None:
        """Raise InvalidSignature unless the request carries the configured credentials."""
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            raise InvalidSignature("HTTP Basic credentials are required")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error as exc:
            raise InvalidSignature("the credentials are not base64") from exc
        username, colon, password = decoded.partition(b":")
        user_ok = hmac.compare_digest(username, self._username)
        password_ok = hmac.compare_digest(password, self._password)
        if not (colon and user_ok and password_ok):
            raise InvalidSignature("wrong credentials")


def parse_event(record: Any) -> ProviderEvent | None:
    """The event of one record; None for records that change nothing here."""
    if not isinstance(record, dict):
        raise UnreadablePayload("expected a JSON object with `RecordType`")
    known = _RECORDS.get(record.get("RecordType", ""))
    if known is None:
        return None
    event_type, recipient_field, time_field = known
    email = record.get(recipient_field)
    if not isinstance(email, str):
        return None
    bounce_type: BounceType | None = None
    if event_type == "bounce":
        kind = record.get("Type")
        if kind not in _HARD | _SOFT:
            return None
        bounce_type = "hard" if kind in _HARD else "soft"
    if event_type == "unsubscribe" and record.get("SuppressSending") is not True:
        return None  # a resubscription: consent is the contact's to give, not a relay's
    occurred = record.get(time_field)
    # Bounces and complaints have an `ID`; other records are told apart by message and time.
    event_id = record.get("ID")
    if not isinstance(event_id, int | str) or isinstance(event_id, bool):
        event_id = f"{record.get('MessageID')}:{record['RecordType']}:{occurred}"
    metadata = record.get("Metadata")
    url = record.get("OriginalLink")
    return ProviderEvent(
        type=event_type,
        email=email,
        event_id=str(event_id),
        occurred_at=parse_instant(occurred),
        # Postmark reports its own MessageID; the sender's Message-ID comes back only as
        # metadata the relay was given (`X-PM-Metadata-message_id`).
        message_id=angle_message_id(metadata.get("message_id"))
        if isinstance(metadata, dict)
        else None,
        bounce_type=bounce_type,
        url=url if isinstance(url, str) else None,
    )
