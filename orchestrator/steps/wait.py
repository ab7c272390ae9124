"""`wait`: hold the enrollment a while (`duration`) or until a time of day (`until`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from orchestrator.definition_fields import StepId, Strict
from orchestrator.steps.base import Progress, StepBase
from policies.durations import Duration
from policies.local_time import ClockTime, Weekday, first_at, weekday_numbers

if TYPE_CHECKING:
    from orchestrator.steps.enrollment import EnrollmentContext, Position

__all__ = ["UntilTime", "WaitStep", "next_time_of_day"]


class UntilTime(Strict):
    """The next time of day (on one of `days`) in the contact's own time zone."""

    time: ClockTime
    days: list[Weekday] = Field(default=["*"])

    @property
    def weekdays(self) -> frozenset[int]:
        """The allowed days as `datetime.weekday()` numbers."""
        return weekday_numbers(self.days)


class WaitStep(StepBase):
    """Wait a while (`duration`) or until a time of day (`until`)."""

    type: Literal["wait"]
    duration: Duration | None = None
    until: UntilTime | None = None
    next: StepId | None = None

    falls_through_at: ClassVar[str | None] = "next"
    paces_loops: ClassVar[bool] = True

    @model_validator(mode="after")
    def _one_way(self) -> WaitStep:
        if (self.duration is None) == (self.until is None):
            raise ValueError("give exactly one of `duration` and `until`")
        return self

    def advance(self, position: Position, context: EnrollmentContext, now: datetime) -> Progress:
        due = self._over(position.entered_at, context.timezone)
        if now < due:
            position.next_action_at = due
            return Progress.HELD
        return self.go_on(position, context, now, self.next)

    def _over(self, entered_at: datetime, timezone: str) -> datetime:
        if self.duration is not None:
            return entered_at + self.duration
        assert self.until is not None
        return next_time_of_day(self.until, entered_at, timezone)


def next_time_of_day(until: UntilTime, after: datetime, timezone: str) -> datetime:
    """The first instant at or after `after` when the contact's clock shows `until.time` on
    one of `until.days` (a time a DST change skips shows when the clock jumps past it)."""
    zone = ZoneInfo(timezone)
    start = after.astimezone(zone).date()
    for offset in range(8):
        day = start + timedelta(days=offset)
        if day.weekday() not in until.weekdays:
            continue
        instant = first_at(day, until.time, zone)
        if instant >= after:
            return instant
    raise AssertionError("a week always has an allowed day")  # days is never empty
