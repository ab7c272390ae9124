"""Quiet hours: touches only while the contact's own clock shows a time within an allowed
window, and never in a window that begins on one of a country's public holidays."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.facts import Candidate, ContactFacts
from policies.history import History
from policies.local_time import WEEKDAYS, ClockTime, Weekday, first_at, jumps_on, weekday_numbers
from policies.rules.base import Reading, RuleBase

__all__ = ["QuietHoursRule", "Window"]

#: How far ahead an opening is looked for before a rule counts as never open.
_HORIZON_DAYS = 400


class Window(BaseModel):
    """When touches may go on `days`, from `from` to `to` on the contact's clock (`to`
    before `from` runs past midnight; `24:00` is the end of the day)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    days: list[Weekday] = Field(min_length=1)
    start: ClockTime = Field(alias="from")
    end: ClockTime = Field(alias="to")

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if self.start == self.end:
            raise ValueError("`from` and `to` are the same time: the window is empty")
        return self

    @cached_property
    def weekdays(self) -> frozenset[int]:
        """The days it opens on, as `date.weekday()` numbers."""
        return weekday_numbers(self.days)

    def describe(self) -> str:
        """`mon/tue 09:00-19:00`, `every day 08:00-21:00`."""
        if "*" in self.days:
            days = "every day"
        else:
            days = "/".join(day for day in WEEKDAYS if day in self.days)
        return f"{days} {_clock(self.start)}-{_clock(self.end)}"


def _clock(value: time) -> str:
    return "24:00" if value >= time(23, 59, 59) else f"{value:%H:%M}"


@lru_cache(maxsize=64)
def _calendar(country: str) -> holidays.HolidayBase:
    return holidays.country_holidays(country)


def is_holiday(country: str, day: date) -> bool:
    """Whether `day` is a public holiday in `country`."""
    return day in _calendar(country)


class QuietHoursRule(RuleBase):
    """Touches on `channels` only within the `allow` windows, never on `holidays`."""

    type: Literal["quiet_hours"]
    allow: list[Window] = Field(min_length=1)
    holidays: str | None = Field(default=None, description="a country code, e.g. JP")

    @field_validator("holidays")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in holidays.list_supported_countries():
            raise ValueError(f"no public holidays are known for country {value[:16]!r}")
        return value.upper() if value else value

    def earliest(
        self,
        candidate: Candidate,
        history: History,
        cost: float,
        contact: ContactFacts,
        instant: datetime,
    ) -> datetime | None:
        return self.next_opening(instant, contact.timezone)

    def explain(
        self,
        candidate: Candidate,
        history: History,
        cost: float,
        contact: ContactFacts,
        now: datetime,
    ) -> str:
        windows = ", ".join(window.describe() for window in self.allow)
        closed = f", never on {self.holidays} public holidays" if self.holidays else ""
        zone_name = now.astimezone(ZoneInfo(contact.timezone)).tzname()
        return f"{self.name}: {candidate.channel} goes out only {windows} ({zone_name}){closed}"

    def reading(
        self, history: History, costs: Mapping[str, float], timezone: str, now: datetime
    ) -> Reading:
        """Counts nothing: only when it next opens."""
        return Reading(None, None, self.next_opening(now, timezone))

    def is_open(self, instant: datetime, timezone: str) -> bool:
        """Whether the contact's clock shows an allowed time at `instant`."""
        local = instant.astimezone(ZoneInfo(timezone))
        day, clock = local.date(), local.time()
        for window in self.allow:
            if window.start < window.end:
                if window.start <= clock < window.end and self._opens_on(day, window.weekdays):
                    return True
            elif (clock >= window.start and self._opens_on(day, window.weekdays)) or (
                clock < window.end and self._opens_on(day - timedelta(days=1), window.weekdays)
            ):
                return True  # a window past midnight, opened today or yesterday
        return False

    def next_opening(self, instant: datetime, timezone: str) -> datetime | None:
        """`instant` itself if the rule is open then, else the first instant after it at
        which it opens; None if it does not open within the horizon.

        A window opens when the clock first shows its start, when it shows it again
        (autumn's repeated hour), or when a DST jump moves the clock into it.
        """
        if self.is_open(instant, timezone):
            return instant
        zone = ZoneInfo(timezone)
        first_day = instant.astimezone(zone).date() - timedelta(days=1)
        for offset in range(_HORIZON_DAYS):
            day = first_day + timedelta(days=offset)
            moments = set(jumps_on(day, zone))
            for window in self.allow:
                if self._opens_on(day, window.weekdays):
                    moments.add(first_at(day, window.start, zone))
                    again = datetime.combine(day, window.start).replace(tzinfo=zone, fold=1)
                    moments.add(again.astimezone(instant.tzinfo))
            for moment in sorted(moments):
                if moment > instant and self.is_open(moment, timezone):
                    return moment
        return None

    def _opens_on(self, day: date, weekdays: frozenset[int]) -> bool:
        return day.weekday() in weekdays and not (self.holidays and is_holiday(self.holidays, day))
