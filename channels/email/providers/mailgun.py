"""Mailgun's webhooks: `signature` (HMAC-SHA256 of timestamp and token) beside `event-data`."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

from channels.email.providers.base import (
    Clock,
    EventType,
    InvalidSignature,
    ProviderEvent,
    UnreadablePayload,
    Verified,
    angle_message_id,
    from_unix,
    load_json,
)
from channels.webhooks import TOLERANCE_SECONDS

__all__ = ["MailgunVerifier"]

_TYPES: dict[str, EventType] = {
    "delivered": "delivered",
    "opened": "open",
    "clicked": "click",
    "failed": "bounce",
    "complained": "complaint",
    "unsubscribed": "unsubscribe",
}


class MailgunVerifier:
    """Checks the signature with the HTTP webhook signing key, and that it is recent.

    Mailgun signs only the timestamp and the token, not the event: the token is handed back
    (`replay_token`) for the receiver to refuse a second use of it.
    """

    def __init__(
        self, signing_key: str, clock: Clock = time.time, tolerance: int = TOLERANCE_SECONDS
    ) -> None:
        self._key = signing_key.encode()
        self._clock = clock
        self._tolerance = tolerance

    async def verify(self, headers: Mapping[str, str], body: bytes) -> Verified:
        payload = load_json(body)
        signature = payload.get("signature") if isinstance(payload, dict) else None
        if not isinstance(signature, dict):
            raise InvalidSignature("the body carries no `signature` object")
        token = self.check(signature)
        event = parse_event(payload.get("event-data"))
        return Verified(events=() if event is None else (event,), replay_token=token)

    def check(self, signature: Mapping[str, Any]) -> str:
        """The token of a valid, recent `signature` object; else InvalidSignature."""
        timestamp, token, given = (
            signature.get(name) for name in ("timestamp", "token", "signature")
        )
        if not (isinstance(timestamp, str) and isinstance(token, str) and isinstance(given, str)):
            raise InvalidSignature("timestamp, token and signature are required")
        if not (timestamp and token and given):
            raise InvalidSignature("timestamp, token and signature are required")
        expected = hmac.new(self._key, (timestamp + token).encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), given.lower().encode()):
            raise InvalidSignature("the signature does not match")
        if not timestamp.isdigit() or abs(self._clock() - int(timestamp)) > self._tolerance:
            raise InvalidSignature("the timestamp is too far from now")
        return token


def parse_event(data: Any) -> ProviderEvent | None:
    """The event of `event-data`; None for those that change nothing here (accepted, stored)."""
    if not isinstance(data, dict):
        raise UnreadablePayload("`event-data` must be an object")
    event_type = _TYPES.get(data.get("event", ""))
    email, event_id = data.get("recipient"), data.get("id")
    if event_type is None or not isinstance(email, str) or not isinstance(event_id, str):
        return None
    message = data.get("message")
    headers = message.get("headers") if isinstance(message, dict) else None
    url = data.get("url")
    reason = data.get("reason")
    return ProviderEvent(
        type=event_type,
        email=email,
        event_id=event_id,
        occurred_at=from_unix(data.get("timestamp")),
        message_id=angle_message_id(headers.get("message-id"))
        if isinstance(headers, dict)
        else None,
        bounce_type=(
            ("hard" if data.get("severity") == "permanent" else "soft")
            if event_type == "bounce"
            else None
        ),
        url=url if isinstance(url, str) else None,
        detail={"reason": reason} if isinstance(reason, str) else {},
    )
