"""What a simulation answers, counted from the touches its run made."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "CampaignLoss",
    "Collisions",
    "DayChannel",
    "Decisions",
    "Forecast",
    "JourneyPath",
    "PressureChange",
    "SideBySide",
    "TaskLoad",
    "WhatIf",
    "cap_held_contacts",
    "day_of",
    "journeys",
    "tally",
]

Row = Mapping[str, Any]
_DAY = timedelta(days=1)


class Decisions(BaseModel):
    """Touches decided: admitted (queued, sent or a task), deferred and blocked, the last
    two by their binding rule; `failed` are touches that could not be made at all."""

    admitted: int = 0
    deferred: int = 0
    blocked: int = 0
    failed: int = 0
    deferred_by_rule: dict[str, int] = Field(default_factory=dict)
    blocked_by_rule: dict[str, int] = Field(default_factory=dict)

    def add(self, row: Row) -> None:
        status, rule = row["status"], row["rule"] or "?"
        if status == "deferred":
            self.deferred += 1
            self.deferred_by_rule[rule] = self.deferred_by_rule.get(rule, 0) + 1
        elif status == "blocked":
            self.blocked += 1
            self.blocked_by_rule[rule] = self.blocked_by_rule.get(rule, 0) + 1
        elif row["policy_version"] is None:
            self.failed += 1
        else:
            self.admitted += 1


class DayChannel(Decisions):
    """One virtual day (`day` 0 starts when the simulation does; `date` is its UTC date)."""

    day: int
    date: date
    channel: str


class TaskLoad(BaseModel):
    """Tasks the campaign created on a day and channel, beside its throttle there."""

    day: int
    date: date
    channel: str
    created: int
    throttle_max: int | None = None
    throttle_per: str | None = Field(default=None, description="ISO 8601 duration")


class CampaignLoss(BaseModel):
    """Another campaign's admitted touches to the audience without and with this one."""

    campaign_id: int
    name: str
    priority: int
    admitted_without: int
    admitted_with: int
    lost: int
    deferred_more: int
    blocked_more: int


class Collisions(BaseModel):
    """What the campaign does to the others. Counted by running the same copy twice, with
    and without the campaign, and comparing: an exact counterfactual, not an estimate."""

    contacts_pushed_into_cap: int = Field(
        description="contacts with a touch held by a cap (any campaign's) that no cap held "
        "without this campaign"
    )
    campaigns: list[CampaignLoss]


class JourneyPath(BaseModel):
    """The send steps a journey reached, in order, and where it ended (or stands)."""

    path: list[str]
    end: str
    count: int


class Forecast(BaseModel):
    """A campaign's forecast over `days` virtual days from `start`."""

    campaign_id: int
    start: datetime
    end: datetime
    seed: int
    policy_version: int
    audience: int = Field(description="contacts in the simulated audience")
    daily: list[DayChannel]
    tasks: list[TaskLoad]
    collisions: Collisions
    paths: list[JourneyPath]
    end_states: dict[str, int]


class SideBySide(BaseModel):
    """One day, channel and campaign under the current and the proposed policy."""

    day: int
    date: date
    channel: str
    campaign_id: int | None
    campaign_name: str | None
    current: Decisions
    proposed: Decisions


class PressureChange(BaseModel):
    """A contact whose admitted touches (or their points) differ between the two policies."""

    contact_id: int
    external_id: str | None
    current_touches: int
    proposed_touches: int
    current_points: float
    proposed_points: float


class WhatIf(BaseModel):
    """Every active campaign under the current and the proposed policy."""

    start: datetime
    end: datetime
    seed: int
    current_version: int
    contacts: int = Field(description="contacts with a running enrollment, all simulated")
    rows: list[SideBySide]
    pressure_changed: int
    examples: list[PressureChange]


def day_of(at: datetime, start: datetime) -> int:
    return (at - start) // _DAY


def tally(rows: Iterable[Row], start: datetime) -> dict[tuple[int, str, int | None], Decisions]:
    """Decisions by day, channel and campaign."""
    found: dict[tuple[int, str, int | None], Decisions] = {}
    for row in rows:
        key = (day_of(row["created_at"], start), row["channel"], row["campaign_id"])
        found.setdefault(key, Decisions()).add(row)
    return found


def cap_held_contacts(rows: Iterable[Row], caps: Collection[str]) -> set[int]:
    """The contacts with a touch a cap held, as the binding rule or another."""
    return {
        row["contact_id"]
        for row in rows
        if row["rule"] in caps or any(rule in caps for rule in row["also_held"] or {})
    }


def journeys(
    touches: Iterable[Row], enrollments: Iterable[Row], most: int = 20
) -> tuple[list[JourneyPath], dict[str, int]]:
    """The commonest journeys (`most` of them) and the enrollments by end state."""
    steps: dict[int, list[str]] = {}
    for row in touches:
        if row["enrollment_id"] is None:
            continue
        path = steps.setdefault(row["enrollment_id"], [])
        if not path or path[-1] != row["step_id"]:
            path.append(row["step_id"])
    paths: Counter[tuple[tuple[str, ...], str]] = Counter()
    states: Counter[str] = Counter()
    for enrollment in enrollments:
        state = enrollment["state"]
        end = f"{state}: {enrollment['exit_reason']}" if enrollment["exit_reason"] else state
        states[end] += 1
        where = f"{end} at {enrollment['step_id']}" if state == "active" else end
        paths[(tuple(steps.get(enrollment["id"], [])), where)] += 1
    return (
        [
            JourneyPath(path=list(path), end=end, count=count)
            for (path, end), count in sorted(paths.items(), key=lambda kv: (-kv[1], kv[0]))[:most]
        ],
        dict(sorted(states.items())),
    )
