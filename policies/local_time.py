"""Wall clocks: times of day and weekdays as the API writes them, when a local time first
shows across DST changes, and when the clock jumps."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["WEEKDAYS", "ClockTime", "Weekday", "first_at", "jumps_on", "weekday_numbers"]

_MINUTE = timedelta(minutes=1)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "*"]
_END_OF_DAY = time(23, 59, 59, 999_999)


def weekday_numbers(days: list[Weekday]) -> frozenset[int]:
    """Days as `date.weekday()` numbers; `*` is every day."""
    if "*" in days:
        return frozenset(range(7))
    return frozenset(WEEKDAYS.index(day) for day in days)


def _hh_mm(value: Any) -> Any:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{2}:\d{2}", value):
        raise ValueError("a time of day is 'HH:MM'")
    return _END_OF_DAY if value == "24:00" else value


def _as_hh_mm(value: time) -> str:
    return "24:00" if value == _END_OF_DAY else f"{value:%H:%M}"


#: A time of day as `HH:MM` (`24:00` is the end of the day).
ClockTime = Annotated[
    time, BeforeValidator(_hh_mm), PlainSerializer(_as_hh_mm, return_type=str, when_used="json")
]


def first_at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The first instant at which the clock in `zone` shows `clock` (or later) on `day`.

    A time the clock skips (02:30 on a spring-forward night) first "shows" when the clock
    jumps past it (03:00); a time it shows twice (autumn) counts from its first showing.
    """
    wall = datetime.combine(day, clock)
    instant = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the earlier reading
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # Skipped: step from the reading before the jump to the first reading at or past `clock`.
    probe = wall.replace(tzinfo=zone, fold=1).astimezone(UTC).replace(second=0, microsecond=0)
    while probe.astimezone(zone).replace(tzinfo=None) < wall:
        probe += _MINUTE
    return probe


def jumps_on(day: date, zone: ZoneInfo) -> list[datetime]:
    """The instants on `day` at which the clock in `zone` changes its offset (DST)."""
    start = datetime.combine(day, time(0)).replace(tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0)).replace(tzinfo=zone).astimezone(UTC)
    if start.astimezone(zone).utcoffset() == end.astimezone(zone).utcoffset():
        return []
    low, high = start, end  # offset(low) differs from offset(high): bisect to the minute
    while high - low > _MINUTE:
        middle = low + (high - low) / 2
        middle = middle.replace(second=0, microsecond=0)
        if middle <= low:
            middle = low + _MINUTE
        if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
            low = middle
        else:
            high = middle
    return [high]
