"""Sentences a marketer reads: instants on the contact's clock, windows in words. Each rule
type writes its own sentence with these."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["a_touch", "at_local", "span", "touches"]

_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))

#: What a touch is called on the built-in channels: one, and many.
_NOUNS = {
    "email": ("an email", "emails"),
    "phone": ("a call", "calls"),
    "dm": ("a letter", "letters"),
    "sns": ("a social message", "social messages"),
}


def at_local(instant: datetime, timezone: str) -> str:
    """`2026-11-25 10:00 JST`: the instant on the contact's clock, with the zone's name."""
    local = instant.astimezone(ZoneInfo(timezone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def span(duration: timedelta) -> str:
    """`7 days`, `24 hours`, `90 seconds`: a window in the largest unit that divides it."""
    seconds = int(duration.total_seconds())
    for unit, size in _UNITS:
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{duration.total_seconds():g} seconds"


def a_touch(channel: str) -> str:
    """`a call`, `a letter`, `an email`; `a fax touch` for a channel of a plugin."""
    return _NOUNS.get(channel, (f"a {channel} touch", ""))[0]


def touches(channels: list[str]) -> str:
    """`calls` for a rule on the phone alone; `touches` for a rule on several channels."""
    if len(channels) == 1 and channels[0] in _NOUNS:
        return _NOUNS[channels[0]][1]
    return "touches"
