"""SendGrid's Event Webhook: batches of events, signed with ECDSA P-256."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature as BadEcdsa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from channels.email.providers.base import (
    BounceType,
    EventType,
    InvalidSignature,
    ProviderEvent,
    UnreadablePayload,
    Verified,
    angle_message_id,
    from_unix,
    load_json,
)

__all__ = ["SendGridVerifier"]

SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"

_TYPES: dict[str, EventType] = {
    "delivered": "delivered",
    "open": "open",
    "click": "click",
    "bounce": "bounce",
    "spamreport": "complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
}


class SendGridVerifier:
    """Checks `timestamp header + raw body` against the account's verification key (base64
    DER). SendGrid signs no time window; its `sg_event_id` makes a replay a duplicate."""

    def __init__(self, public_key: str) -> None:
        try:
            key = load_der_public_key(base64.b64decode(public_key, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ValueError("the SendGrid verification key is not a base64 DER key") from exc
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("the SendGrid verification key is not an ECDSA key")
        self._key = key

    async def verify(self, headers: Mapping[str, str], body: bytes) -> Verified:
        self.check(headers, body)
        payload = load_json(body)
        if not isinstance(payload, list):
            raise UnreadablePayload("expected a JSON array of events")
        return Verified(events=tuple(e for item in payload if (e := parse_event(item))))

    def check(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise InvalidSignature unless the request is SendGrid's, byte for byte."""
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        try:
            signature = base64.b64decode(headers.get(SIGNATURE_HEADER, ""), validate=True)
        except binascii.Error as exc:
            raise InvalidSignature("the signature is not base64") from exc
        if not timestamp or not signature:
            raise InvalidSignature("the signature and timestamp headers are required")
        try:
            self._key.verify(signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        except BadEcdsa as exc:
            raise InvalidSignature("the ECDSA signature does not match") from exc


def parse_event(item: Any) -> ProviderEvent | None:
    """One SendGrid event; None for those that change nothing here (processed, deferred,
    dropped: SendGrid did not send)."""
    if not isinstance(item, dict):
        raise UnreadablePayload("every event must be an object")
    event_type = _TYPES.get(item.get("event", ""))
    email, event_id = item.get("email"), item.get("sg_event_id")
    if event_type is None or not isinstance(email, str) or not isinstance(event_id, str):
        return None
    bounce_type: BounceType | None = None
    if event_type == "bounce":
        # `bounce` is a refusal of the address; `blocked` a refusal of this message.
        bounce_type = "hard" if item.get("type", "bounce") == "bounce" else "soft"
    url = item.get("url")
    return ProviderEvent(
        type=event_type,
        email=email,
        event_id=event_id,
        occurred_at=from_unix(item.get("timestamp")),
        message_id=angle_message_id(item.get("smtp-id")),
        bounce_type=bounce_type,
        url=url if isinstance(url, str) else None,
        detail={"reason": item["reason"]} if isinstance(item.get("reason"), str) else {},
    )
