"""Wall clocks across DST changes: when a local time first shows, and when the clock jumps."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["first_at", "jumps_on"]

_MINUTE = timedelta(minutes=1)


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
