"""Kizuna's own event format for any relay, signed per Standard Webhooks."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from channels.email.providers.base import (
    Clock,
    EventType,
    ProviderEvent,
    UnreadablePayload,
    Verified,
    angle_message_id,
    load_json,
    parse_instant,
)
from channels.webhooks import secret_key, verify_webhook

__all__ = ["StandardVerifier"]

_TYPES: dict[str, EventType] = {
    "email.delivered": "delivered",
    "email.opened": "open",
    "email.clicked": "click",
    "email.bounced": "bounce",
    "email.complained": "complaint",
    "email.unsubscribed": "unsubscribe",
}


class StandardVerifier:
    """`{"type": "email.bounced", "timestamp", "data": {email, message_id, bounce_type, url}}`
    signed with a `whsec_` secret; the `webhook-id` is the event's id."""

    def __init__(self, secret: str, clock: Clock = time.time) -> None:
        self._key = secret_key(secret)
        self._clock = clock

    async def verify(self, headers: Mapping[str, str], body: bytes) -> Verified:
        webhook_id = verify_webhook(self._key, headers, body, self._clock())
        return Verified(events=(parse_event(load_json(body), webhook_id),))


def parse_event(payload: Any, event_id: str) -> ProviderEvent:
    """The one event of a Standard Webhooks request."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise UnreadablePayload("expected an object with `type` and `data`")
    event_type = _TYPES.get(payload.get("type", ""))
    if event_type is None:
        raise UnreadablePayload(f"`type` must be one of {', '.join(_TYPES)}")
    data = payload["data"]
    email = data.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise UnreadablePayload("`data.email` must be an email address")
    bounce_type = data.get("bounce_type")
    if event_type == "bounce" and bounce_type not in ("hard", "soft"):
        raise UnreadablePayload("`data.bounce_type` must be `hard` or `soft` on email.bounced")
    url = data.get("url")
    return ProviderEvent(
        type=event_type,
        email=email,
        event_id=event_id,
        occurred_at=parse_instant(payload.get("timestamp")),
        message_id=angle_message_id(data.get("message_id")),
        bounce_type=bounce_type if event_type == "bounce" else None,
        url=url if isinstance(url, str) else None,
    )
