"""ISO 8601 durations as the API writes them: days and time, never years or months."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, TypeAdapter, ValidationError

__all__ = ["LONGEST", "Duration", "iso_duration"]


def iso_duration(value: timedelta) -> str:
    """`P7D`, `PT24H`, `P1DT2H30M`, `PT0.5S`: the form RFC 3339 also accepts (a year or a
    month would have no fixed length, so a duration is written in days)."""
    seconds = value.total_seconds()
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, rest = divmod(rest, 60)
    text = "P" + (f"{int(days)}D" if days else "")
    clock = (
        (f"{int(hours)}H" if hours else "")
        + (f"{int(minutes)}M" if minutes else "")
        + (f"{rest:g}S" if rest else "")
    )
    return text + ("T" + clock if clock else "") if (days or clock) else "PT0S"


_NOT_ISO = "a duration is an ISO 8601 string such as 'PT2H' or 'P3D'"
_TIMEDELTA = TypeAdapter(timedelta)


def _iso_only(value: Any) -> timedelta:
    """Read an ISO 8601 duration; whatever is wrong with it, the problem has one wording."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str) and value.startswith("P"):
        try:
            return _TIMEDELTA.validate_python(value)
        except ValidationError:
            pass
    raise ValueError(_NOT_ISO)


#: The longest duration anything may take: far beyond any campaign, well within datetime.
LONGEST = timedelta(days=3_660)


def _in_range(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("a duration must be longer than zero")
    if value > LONGEST:
        raise ValueError("a duration may be ten years at most")
    return value


#: An ISO 8601 duration (`PT2S` to `P10Y`) longer than zero; a year counts 365 days and a
#: month 30, and the API writes it back in days.
Duration = Annotated[
    timedelta,
    BeforeValidator(_iso_only),
    AfterValidator(_in_range),
    PlainSerializer(iso_duration, return_type=str, when_used="json"),
]
