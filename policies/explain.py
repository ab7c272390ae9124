"""Sentences a marketer reads: which rule, how full, until when, on the contact's clock."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from policies.facts import Candidate, ContactFacts
from policies.history import History
from policies.model import WEEKDAYS, CapRule, MinGapRule, QuietHoursRule, Rule, Window
from policies.rules.cap import cap_used, counted
from policies.rules.gap import last_within

__all__ = ["at_local", "explain_rule", "span"]

_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))


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


def explain_rule(
    rule: Rule,
    candidate: Candidate,
    history: History,
    cost: float,
    contact: ContactFacts,
    now: datetime,
) -> str:
    """Why `rule` holds the touch back at `now`, in a sentence."""
    zone = contact.timezone
    if isinstance(rule, CapRule):
        units = "points" if rule.unit == "weight" else "touches"
        if rule.unit == "weight" and cost > rule.max:
            return (
                f"{rule.name}: one {candidate.channel} touch costs {cost:g} points, more than "
                f"the {rule.max:g} allowed per {span(rule.window)}"
            )
        used = cap_used(rule, counted(rule, history, now))
        return (
            f"{rule.name}: {used:g} of {rule.max:g} {units} used "
            f"since {at_local(now - rule.window, zone)}"
        )
    if isinstance(rule, MinGapRule):
        last = last_within(rule, history, now)
        when = at_local(last.at, zone) if last else "recently"
        return f"{rule.name}: the last touch was {when}, less than {span(rule.gap)} before"
    assert isinstance(rule, QuietHoursRule)
    windows = ", ".join(_window(window) for window in rule.allow)
    closed = f", never on {rule.holidays} public holidays" if rule.holidays else ""
    zone_name = now.astimezone(ZoneInfo(zone)).tzname()
    return f"{rule.name}: {candidate.channel} goes out only {windows} ({zone_name}){closed}"


def _window(window: Window) -> str:
    if "*" in window.days:
        days = "every day"
    else:
        days = "/".join(day for day in WEEKDAYS if day in window.days)
    return f"{days} {_clock(window.start)}-{_clock(window.end)}"


def _clock(value: time) -> str:
    return "24:00" if value >= time(23, 59, 59) else f"{value:%H:%M}"
