"""The policy document: channel weights, consent modes, and the rules (caps, gaps, quiet
hours). Checks that need nothing outside this package happen here; the names of the
channels are checked by whoever knows them."""

from __future__ import annotations

import re
from datetime import time, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal

import holidays
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from policies.durations import Duration

__all__ = [
    "DEFAULT_CONSENT",
    "DEFAULT_WEIGHTS",
    "WEEKDAYS",
    "CapRule",
    "ClockTime",
    "MinGapRule",
    "Policy",
    "QuietHoursRule",
    "Rule",
    "Weekday",
    "Window",
    "weekday_numbers",
]

#: Japan's 特定電子メール法 asks prior consent for marketing mail; social messages likewise.
DEFAULT_CONSENT: dict[str, Literal["opt_in", "opt_out"]] = {
    "email": "opt_in",
    "sns": "opt_in",
    "phone": "opt_out",
    "dm": "opt_out",
}
DEFAULT_WEIGHTS: dict[str, float] = {"email": 1, "sns": 1, "dm": 2, "phone": 3}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


Channels = Annotated[list[Annotated[str, Field(min_length=1, max_length=32)]], Field(min_length=1)]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    channels: Channels = ["*"]

    def applies_to(self, channel: str) -> bool:
        """Whether the rule judges touches on `channel`."""
        return "*" in self.channels or channel in self.channels


class CapRule(_Rule):
    """At most `max` touches (or weight points) on `channels` in any rolling `window`."""

    type: Literal["cap"]
    max: float = Field(gt=0)
    window: Duration
    unit: Literal["touches", "weight"] = "touches"
    categories: list[Literal["marketing", "transactional"]] | None = None


class MinGapRule(_Rule):
    """At least `gap` between two touches on `channels`."""

    type: Literal["min_gap"]
    gap: Duration


_END_OF_DAY = time(23, 59, 59, 999_999)


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
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "*"]


def weekday_numbers(days: list[Weekday]) -> frozenset[int]:
    """Days as `date.weekday()` numbers; `*` is every day."""
    if "*" in days:
        return frozenset(range(7))
    return frozenset(WEEKDAYS.index(day) for day in days)


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


class QuietHoursRule(_Rule):
    """Touches on `channels` only within the `allow` windows, never on `holidays`."""

    type: Literal["quiet_hours"]
    allow: list[Window] = Field(min_length=1)
    holidays: str | None = Field(default=None, description="a country code, e.g. JP")

    @field_validator("holidays")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in holidays.list_supported_countries():
            raise ValueError(f"no public holidays are known for country {value!r}")
        return value.upper() if value else value


Rule = Annotated[CapRule | MinGapRule | QuietHoursRule, Field(discriminator="type")]


class Policy(BaseModel):
    """The installation's contact-frequency policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: dict[str, Annotated[float, Field(ge=0, le=100)]] = Field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS)
    )
    rules: list[Rule] = Field(default_factory=list, max_length=100)
    consent: dict[str, Literal["opt_in", "opt_out"]] = Field(
        default_factory=lambda: dict(DEFAULT_CONSENT)
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Policy:
        names = [rule.name for rule in self.rules]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(repeated)}")
        return self

    def weight(self, channel: str, override: float | None = None) -> float:
        """What one touch on `channel` costs (a step may set its own weight)."""
        return override if override is not None else self.weights.get(channel, 1.0)

    @cached_property
    def longest_window(self) -> timedelta:
        """How far back caps and gaps look: the history a decision needs."""
        spans = [rule.window for rule in self.rules if isinstance(rule, CapRule)]
        spans += [rule.gap for rule in self.rules if isinstance(rule, MinGapRule)]
        return max(spans, default=timedelta(0))

    def channel_names(self) -> set[str]:
        """Every channel the document names (to check against the installation's)."""
        named = set(self.weights) | set(self.consent)
        for rule in self.rules:
            named |= set(rule.channels) - {"*"}
        return named
