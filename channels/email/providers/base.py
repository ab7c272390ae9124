"""What every email provider's webhook comes down to: verified, plain-data events."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import orjson

from channels.webhooks import InvalidSignature

__all__ = [
    "BounceType",
    "Clock",
    "EventType",
    "InvalidSignature",
    "ProviderEvent",
    "UnreadablePayload",
    "Verified",
    "WebhookVerifier",
    "angle_message_id",
    "from_unix",
    "load_json",
    "parse_instant",
]

BounceType = Literal["hard", "soft"]
EventType = Literal["delivered", "open", "click", "bounce", "complaint", "unsubscribe"]

#: The receiver's clock in unix seconds: `time.time` in production, a vector's time in tests.
Clock = Callable[[], float]


class UnreadablePayload(ValueError):
    """A request whose signature holds but whose content is not the provider's format."""


@dataclass(frozen=True)
class ProviderEvent:
    """One event about one recipient, as a provider reported it.

    `event_id` is the provider's id of the report (the same on a redelivery); `message_id`
    the Message-ID header of the mail (`<...>`), when the provider gives it back.
    """

    type: EventType
    email: str
    event_id: str
    occurred_at: datetime | None = None
    message_id: str | None = None
    bounce_type: BounceType | None = None
    url: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verified:
    """What a verified request says: its events, and what must not be seen twice."""

    events: tuple[ProviderEvent, ...] = ()
    #: A one-time token (Mailgun): a request that reuses one is a replay.
    replay_token: str | None = None
    #: An SNS subscription waiting for its owner to confirm it at this URL.
    subscribe_url: str | None = None
    topic: str | None = None


class WebhookVerifier(Protocol):
    """Checks a provider's request, from its raw bytes, and reads its events."""

    async def verify(self, headers: Mapping[str, str], body: bytes) -> Verified:
        """The request's events; raise InvalidSignature or UnreadablePayload.

        `headers` are keyed in lower case.
        """
        ...


def load_json(body: bytes) -> Any:
    """The body as JSON, or UnreadablePayload."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnreadablePayload("the body is not JSON") from exc


def angle_message_id(value: object) -> str | None:
    """A Message-ID as the header has it, `<local@domain>`, however the provider wrote it."""
    if not isinstance(value, str) or not value.strip():
        return None
    return "<" + value.strip().removeprefix("<").removesuffix(">") + ">"


def from_unix(value: object) -> datetime | None:
    """A unix time (seconds, maybe fractional) as an aware UTC instant."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC)


def parse_instant(value: object) -> datetime | None:
    """An ISO 8601 time from a provider (7 fractional digits and `Z` included), in UTC."""
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    main, dot, rest = text.partition(".")
    if dot:  # Python reads at most 6 fractional digits
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{main}.{digits[:6]}{rest[len(digits) :]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
