"""How each `send` channel's far end (the SMTP relay, a bridge) answered lately: plain data
the outbox writes and a readiness check reads."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

__all__ = ["ChannelHealth", "DeliveryHealth"]


@dataclass(frozen=True)
class ChannelHealth:
    """The last delivery's answer: `reachable` is False after a transient failure (the
    relay did not answer, or asked to come back later) until a delivery is accepted or
    refused for good; `last_success_at` is the last one accepted."""

    reachable: bool
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str | None = None


class DeliveryHealth:
    """The latest delivery answer of each channel, in this process."""

    def __init__(self) -> None:
        self._channels: dict[str, ChannelHealth] = {}

    def settled(self, channel: str, at: datetime, *, accepted: bool) -> None:
        """A delivery on `channel` was accepted, or refused for good (the far end answered)."""
        known = self._channels.get(channel, ChannelHealth(reachable=True))
        last_success_at = at if accepted else known.last_success_at
        self._channels[channel] = replace(known, reachable=True, last_success_at=last_success_at)

    def failed(self, channel: str, error: str, at: datetime) -> None:
        """A delivery on `channel` failed transiently: it will be retried."""
        known = self._channels.get(channel, ChannelHealth(reachable=False))
        self._channels[channel] = replace(
            known, reachable=False, last_failure_at=at, last_error=error
        )

    def channels(self) -> dict[str, ChannelHealth]:
        """Each channel that delivered something since the process started."""
        return dict(self._channels)
