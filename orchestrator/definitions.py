"""The campaign definition: its steps (a discriminated union on `type`, one module per
step type in `orchestrator.steps`), conditions, and the campaign-level options.

Shape and graph are checked in one pass, so every problem comes back in one answer."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal, Self

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from orchestrator.conditions import (
    AllCondition,
    AnyCondition,
    AttributeCondition,
    Condition,
    ConsentCondition,
    EventCondition,
    NotCondition,
)
from orchestrator.definition_fields import (
    Cooldown,
    KnownChannel,
    Location,
    Reentry,
    Strict,
    TimeZone,
)
from orchestrator.errors import json_path
from orchestrator.messages import shown
from orchestrator.models.checks import storable
from orchestrator.steps import (
    AnyStep,
    BranchStep,
    ExitStep,
    SendStep,
    SplitStep,
    Step,
    UntilTime,
    WaitForEventStep,
    WaitStep,
)
from orchestrator.steps.graph import graph_problems
from policies.durations import Duration
from policies.preferences import Topic

__all__ = [
    "AllCondition",
    "AnyCondition",
    "AnyStep",
    "AttributeCondition",
    "BranchStep",
    "CampaignDefinition",
    "Condition",
    "ConsentCondition",
    "Cooldown",
    "EventCondition",
    "ExitStep",
    "Goal",
    "NotCondition",
    "Schedule",
    "SendStep",
    "SplitStep",
    "Step",
    "Throttle",
    "UntilTime",
    "WaitForEventStep",
    "WaitStep",
    "cron_trigger",
]

_MOST_STEPS = 500
_CRON_DAY_NUMBERS = {"0": "sun", "1": "mon", "2": "tue", "3": "wed", "4": "thu", "5": "fri",
                     "6": "sat", "7": "sun"}  # fmt: skip


class Goal(Strict):
    """The event that ends every enrollment of the campaign, wherever the contact is."""

    event: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] | None = None


def _step_position(loc: Location) -> int:
    """Where in the list of steps a problem is (-1 outside the steps): problems are listed
    step by step."""
    if len(loc) > 1 and loc[0] == "steps" and isinstance(loc[1], int):
        return loc[1]
    return -1


def cron_trigger(cron: str, timezone: str) -> CronTrigger:
    """APScheduler's trigger for a five-field crontab line, read in `timezone`.

    Day-of-week numbers are cron's (0 and 7 are Sunday), not APScheduler's (0 is Monday).
    """
    fields = cron.split()
    if len(fields) == 5:
        fields[4] = re.sub(r"\d+", lambda m: _CRON_DAY_NUMBERS.get(m.group(), m.group()), fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=zoneinfo.ZoneInfo(timezone))


class Schedule(Strict):
    """Enroll the contacts matching `audience` each time `cron` fires in `timezone`."""

    cron: str = Field(min_length=9, max_length=200)
    timezone: TimeZone = "Asia/Tokyo"
    audience: Condition

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, cron: str) -> str:
        """A crontab line reads the same in every zone: checked alone, at `cron`, so a bad
        zone or audience beside it is reported too."""
        try:
            cron_trigger(cron, "UTC")
        except (ValueError, KeyError) as exc:
            raise ValueError(f"cron {shown(cron)}: {exc}") from exc
        return cron


class Throttle(Strict):
    max: int = Field(ge=1)
    per: Duration


class CampaignDefinition(Strict):
    """A campaign as teams define it over HTTP."""

    name: str = Field(min_length=1, max_length=200)
    priority: int = Field(default=50, ge=0, le=100)
    category: Literal["marketing", "transactional"] = "marketing"
    topic: Topic | None = Field(
        default=None,
        description="what the campaign is about: one of the policy's `topics`; a contact "
        "who did not choose it gets none of the campaign's marketing touches",
    )
    goal: Goal | None = None
    reentry: Reentry = "never"
    schedule: Schedule | None = None
    throttle: dict[KnownChannel, Throttle] | None = None
    steps: list[Step] = Field(min_length=1, max_length=_MOST_STEPS)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return storable(data)

    @model_validator(mode="wrap")
    @classmethod
    def _shape_and_graph(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Check the graph of steps even where their shape is broken, so one answer lists
        every problem. A graph problem at a field whose shape is wrong already (a target
        that is no step id at all) is left out: the field is reported once."""
        if isinstance(data, CampaignDefinition):
            return handler(data)
        shape: list[ErrorDetails] = []
        campaign: Self | None = None
        try:
            campaign = handler(data)
        except ValidationError as exc:
            shape = exc.errors()
        steps = data.get("steps") if isinstance(data, Mapping) else None
        if not isinstance(steps, list) or len(steps) > _MOST_STEPS:
            steps = None
        paths = (tuple(json_path(error["loc"])) for error in shape)
        taken = {path for path in paths if len(path) > 2}  # a field inside a step
        graph = [(loc, msg) for loc, msg in graph_problems(steps) if loc not in taken]
        if campaign is not None and not graph:
            return campaign
        found = [
            InitErrorDetails(
                type=PydanticCustomError(error["type"], error["msg"]),
                loc=error["loc"],
                input=error["input"],
            )
            for error in shape
        ]
        found += [
            InitErrorDetails(type=PydanticCustomError("campaign", msg), loc=loc, input=None)
            for loc, msg in graph
        ]
        raise ValidationError.from_exception_data(
            cls.__name__, sorted(found, key=lambda error: _step_position(error["loc"]))
        )

    @cached_property
    def steps_by_id(self) -> dict[str, AnyStep]:
        """Every step by its id."""
        return {step.id: step for step in self.steps}

    @cached_property
    def reads_events(self) -> bool:
        """Whether moving through its steps reads the enrollment's events."""
        return any(step.reads_events for step in self.steps)

    @cached_property
    def _following(self) -> dict[str, str | None]:
        ids = [step.id for step in self.steps]
        return dict(zip(ids, [*ids[1:], None], strict=True))

    def following(self, step_id: str) -> str | None:
        """The step after `step_id` in the list (where `next` leads by default), or None
        after the last one, where the enrollment completes."""
        return self._following[step_id]
