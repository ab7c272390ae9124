"""The campaign definition: steps (a discriminated union on `type`), conditions, and the
campaign-level options. Each model checks what it can see alone; `campaign_checks` adds
the checks that need the whole graph of steps."""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta
from functools import cached_property
from typing import Annotated, Any, Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from channels.registry import UnknownChannel, channel_class, channel_names
from orchestrator.contact_fields import check_timezone
from orchestrator.models.checks import reject_nul
from orchestrator.templates import TemplateError, check_template
from policies.durations import Duration
from policies.model import WEEKDAYS, ClockTime, Weekday, weekday_numbers

__all__ = [
    "WEEKDAYS",
    "AnyStep",
    "AttributeCondition",
    "BranchStep",
    "CampaignDefinition",
    "Condition",
    "ConsentCondition",
    "EventCondition",
    "ExitStep",
    "Schedule",
    "SendStep",
    "SplitStep",
    "Step",
    "WaitForEventStep",
    "WaitStep",
    "cron_trigger",
]

_CRON_DAY_NUMBERS = {"0": "sun", "1": "mon", "2": "tue", "3": "wed", "4": "thu", "5": "fri",
                     "6": "sat", "7": "sun"}  # fmt: skip


StepId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
ChannelName = Annotated[str, Field(min_length=1, max_length=32)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _known_channel(name: str) -> str:
    if name not in channel_names():
        known = ", ".join(sorted(channel_names()))
        raise ValueError(f"unknown channel {name!r}; known: {known}")
    return name


KnownChannel = Annotated[ChannelName, AfterValidator(_known_channel)]


TimeZone = Annotated[str, AfterValidator(check_timezone)]


# Conditions ---------------------------------------------------------------------------


class AttributeCondition(_Strict):
    """Compares a contact attribute (`attributes.<name>`, dotted for nesting) or, with
    `field`, a contact field such as `locale` or `address.country`."""

    attribute: str | None = Field(default=None, min_length=1, max_length=200)
    field: str | None = Field(default=None, min_length=1, max_length=200)
    op: Literal["eq", "ne", "in", "gt", "lt", "exists"] = "eq"
    value: Any = None

    @model_validator(mode="after")
    def _one_subject(self) -> AttributeCondition:
        if (self.attribute is None) == (self.field is None):
            raise ValueError("give exactly one of `attribute` and `field`")
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError("`in` compares with a list of values")
        if self.op in ("gt", "lt") and not isinstance(self.value, int | float | str):
            raise ValueError(f"`{self.op}` compares with a number or a string")
        return self


class ConsentCondition(_Strict):
    """The contact's current consent on a channel."""

    consent: KnownChannel
    is_: Literal["opted_in", "opted_out", "unknown"] = Field(alias="is")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EventCondition(_Strict):
    """An event of this type happened (in this enrollment; in a `wait_for_event`, since the
    step was entered), optionally about the touch a step made and with data like this."""

    event: str = Field(min_length=1, max_length=64)
    step: StepId | None = None
    data: dict[str, Any] | None = None


class AllCondition(_Strict):
    all: list[Condition] = Field(min_length=1)


class AnyCondition(_Strict):
    any: list[Condition] = Field(min_length=1)


class NotCondition(_Strict):
    not_: Condition = Field(alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_CONDITION_KEYS = ("all", "any", "not", "consent", "event", "attribute", "field")


def _condition_kind(value: Any) -> str | None:
    """The key that says which kind of condition a dict (or a built one) is."""
    if isinstance(value, dict):
        return next((key for key in _CONDITION_KEYS if key in value), None)
    kinds: dict[type, str] = {
        AllCondition: "all",
        AnyCondition: "any",
        NotCondition: "not",
        ConsentCondition: "consent",
        EventCondition: "event",
        AttributeCondition: "attribute",
    }
    return kinds.get(type(value))


Condition = Annotated[
    Annotated[AllCondition, Tag("all")]
    | Annotated[AnyCondition, Tag("any")]
    | Annotated[NotCondition, Tag("not")]
    | Annotated[ConsentCondition, Tag("consent")]
    | Annotated[EventCondition, Tag("event")]
    | Annotated[AttributeCondition, Tag("attribute")]
    | Annotated[AttributeCondition, Tag("field")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition",
        custom_error_message=f"a condition has one of the keys {', '.join(_CONDITION_KEYS)}",
    ),
]


# Steps --------------------------------------------------------------------------------


class _Step(_Strict):
    id: StepId


class SendStep(_Step):
    """Approach the contact on a channel, if the policy admits it."""

    type: Literal["send"]
    channel: KnownChannel
    template: dict[str, str]
    weight: float | None = Field(default=None, ge=0, le=100)
    max_delay: Duration = timedelta(days=7)
    on_blocked: Literal["skip", "exit"] = "skip"
    next: StepId | None = None

    @model_validator(mode="after")
    def _template_fits_the_channel(self) -> SendStep:
        try:
            adapter = channel_class(self.channel)
        except UnknownChannel:
            return self  # reported on `channel`
        fields = adapter.template_fields
        problems = [
            f"unknown template field {name!r}" for name in self.template.keys() - fields.known
        ]
        problems += [
            f"template field {name!r} is missing" for name in fields.required - self.template.keys()
        ]
        if fields.one_of and not fields.one_of & self.template.keys():
            problems.append(f"the template needs one of {', '.join(sorted(fields.one_of))}")
        for name, source in self.template.items():
            try:
                check_template(name, source)
            except TemplateError as exc:
                problems.append(f"template field {name!r} does not compile: {exc}")
        problems += adapter.check_template(self.template)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class UntilTime(_Strict):
    """The next time of day (on one of `days`) in the contact's own time zone."""

    time: ClockTime
    days: list[Weekday] = ["*"]

    @property
    def weekdays(self) -> frozenset[int]:
        """The allowed days as `datetime.weekday()` numbers."""
        return weekday_numbers(self.days)


class WaitStep(_Step):
    """Wait a while (`duration`) or until a time of day (`until`)."""

    type: Literal["wait"]
    duration: Duration | None = None
    until: UntilTime | None = None
    next: StepId | None = None

    @model_validator(mode="after")
    def _one_way(self) -> WaitStep:
        if (self.duration is None) == (self.until is None):
            raise ValueError("give exactly one of `duration` and `until`")
        return self


class EventCase(_Strict):
    when: EventCondition
    next: StepId


class WaitForEventStep(_Step):
    """Wait for the first matching event since the step was entered, or for the timeout."""

    type: Literal["wait_for_event"]
    cases: list[EventCase] = Field(min_length=1)
    timeout: Duration
    on_timeout: StepId | None = None


class BranchCase(_Strict):
    when: Condition
    next: StepId


class BranchStep(_Step):
    """Go to the first case whose condition holds, else to `default`."""

    type: Literal["branch"]
    cases: list[BranchCase] = Field(min_length=1)
    default: StepId | None = None


class Variant(_Strict):
    name: str = Field(min_length=1, max_length=100)
    weight: float = Field(gt=0)
    next: StepId


class SplitStep(_Step):
    """Send each contact down one variant, chosen by a stable hash of contact and campaign."""

    type: Literal["split"]
    variants: list[Variant] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> SplitStep:
        names = [variant.name for variant in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        return self


class ExitStep(_Step):
    """End the enrollment here."""

    type: Literal["exit"]


AnyStep = SendStep | WaitStep | WaitForEventStep | BranchStep | SplitStep | ExitStep
Step = Annotated[AnyStep, Field(discriminator="type")]


# The campaign -------------------------------------------------------------------------


class Goal(_Strict):
    """The event that ends every enrollment of the campaign, wherever the contact is."""

    event: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] | None = None


class Cooldown(_Strict):
    cooldown: Duration


def cron_trigger(cron: str, timezone: str) -> CronTrigger:
    """APScheduler's trigger for a five-field crontab line, read in `timezone`.

    Day-of-week numbers are cron's (0 and 7 are Sunday), not APScheduler's (0 is Monday).
    """
    fields = cron.split()
    if len(fields) == 5:
        fields[4] = re.sub(r"\d+", lambda m: _CRON_DAY_NUMBERS.get(m.group(), m.group()), fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=zoneinfo.ZoneInfo(timezone))


class Schedule(_Strict):
    """Enroll the contacts matching `audience` each time `cron` fires in `timezone`."""

    cron: str = Field(min_length=9, max_length=200)
    timezone: TimeZone = "Asia/Tokyo"
    audience: Condition

    @model_validator(mode="after")
    def _valid_cron(self) -> Schedule:
        try:
            cron_trigger(self.cron, self.timezone)
        except (ValueError, KeyError) as exc:
            raise ValueError(f"cron {self.cron!r}: {exc}") from exc
        return self


class Throttle(_Strict):
    max: int = Field(ge=1)
    per: Duration


class CampaignDefinition(_Strict):
    """A campaign as teams define it over HTTP."""

    name: str = Field(min_length=1, max_length=200)
    priority: int = Field(default=50, ge=0, le=100)
    category: Literal["marketing", "transactional"] = "marketing"
    goal: Goal | None = None
    reentry: Literal["never", "after_exit"] | Cooldown = "never"
    schedule: Schedule | None = None
    throttle: dict[KnownChannel, Throttle] | None = None
    steps: list[Step] = Field(min_length=1, max_length=500)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return reject_nul(data)

    @cached_property
    def steps_by_id(self) -> dict[str, AnyStep]:
        """Every step by its id."""
        return {step.id: step for step in self.steps}

    @cached_property
    def _following(self) -> dict[str, str | None]:
        ids = [step.id for step in self.steps]
        return dict(zip(ids, [*ids[1:], None], strict=True))

    def following(self, step_id: str) -> str | None:
        """The step after `step_id` in the list (where `next` leads by default), or None
        after the last one, where the enrollment completes."""
        return self._following[step_id]


for _model in (AllCondition, AnyCondition, NotCondition, BranchCase, Schedule):
    _model.model_rebuild()
