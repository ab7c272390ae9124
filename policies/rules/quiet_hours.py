"""Quiet hours: touches only while the contact's own clock shows a time within an allowed
window, and never in a window that begins on one of a country's public holidays."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from policies.local_time import first_at, jumps_on
from policies.model import QuietHoursRule

__all__ = ["is_holiday", "is_open", "next_opening"]

#: How far ahead an opening is looked for before a rule counts as never open.
_HORIZON_DAYS = 400


@lru_cache(maxsize=64)
def _calendar(country: str) -> holidays.HolidayBase:
    return holidays.country_holidays(country)


def is_holiday(country: str, day: date) -> bool:
    """Whether `day` is a public holiday in `country`."""
    return day in _calendar(country)


def _opens_on(rule: QuietHoursRule, day: date, weekdays: frozenset[int]) -> bool:
    return day.weekday() in weekdays and not (rule.holidays and is_holiday(rule.holidays, day))


def is_open(rule: QuietHoursRule, instant: datetime, timezone: str) -> bool:
    """Whether the contact's clock shows an allowed time at `instant`."""
    local = instant.astimezone(ZoneInfo(timezone))
    day, clock = local.date(), local.time()
    for window in rule.allow:
        if window.start < window.end:
            if window.start <= clock < window.end and _opens_on(rule, day, window.weekdays):
                return True
        elif (clock >= window.start and _opens_on(rule, day, window.weekdays)) or (
            clock < window.end and _opens_on(rule, day - timedelta(days=1), window.weekdays)
        ):
            return True  # a window past midnight, opened today or yesterday
    return False


def next_opening(rule: QuietHoursRule, instant: datetime, timezone: str) -> datetime | None:
    """`instant` itself if the rule is open then, else the first instant after it at which
    it opens; None if it does not open within the horizon.

    A window opens when the clock first shows its start, when it shows it again (autumn's
    repeated hour), or when a DST jump moves the clock into it.
    """
    if is_open(rule, instant, timezone):
        return instant
    zone = ZoneInfo(timezone)
    first_day = instant.astimezone(zone).date() - timedelta(days=1)
    for offset in range(_HORIZON_DAYS):
        day = first_day + timedelta(days=offset)
        moments = set(jumps_on(day, zone))
        for window in rule.allow:
            if _opens_on(rule, day, window.weekdays):
                moments.add(first_at(day, window.start, zone))
                again = datetime.combine(day, window.start).replace(tzinfo=zone, fold=1)
                moments.add(again.astimezone(instant.tzinfo))
        for moment in sorted(moments):
            if moment > instant and is_open(rule, moment, timezone):
                return moment
    return None
