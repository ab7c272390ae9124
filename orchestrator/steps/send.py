"""`send`: approach the contact on a channel, if the policy admits it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from channels.base import Channel
from channels.registry import channel_class
from orchestrator.definition_fields import KnownChannel, Location, StepId, problems_at
from orchestrator.messages import shown
from orchestrator.steps.base import StepBase
from orchestrator.templates import TemplateError, check_template
from policies import Allow, Block, Decision, Defer
from policies.durations import Duration

if TYPE_CHECKING:
    from orchestrator.definitions import CampaignDefinition
    from orchestrator.steps.enrollment import EnrollmentContext, Position

__all__ = ["SendStep", "apply_decision"]


class SendStep(StepBase):
    """Approach the contact on a channel, if the policy admits it."""

    type: Literal["send"]
    channel: KnownChannel
    template: dict[str, str]
    weight: float | None = Field(default=None, ge=0, le=100)
    max_delay: Duration = timedelta(days=7)
    on_blocked: Literal["skip", "exit"] = "skip"
    next: StepId | None = None

    falls_through_at: ClassVar[str | None] = "next"
    makes_touches: ClassVar[bool] = True

    @field_validator("template", mode="before")
    @classmethod
    def _switches_as_text(cls, template: Any) -> Any:
        """A template's switches (`"track_links": true`) are kept as the text `true` or
        `false`, as every template field is text."""
        if not isinstance(template, dict):
            return template
        return {
            name: ("true" if value else "false") if isinstance(value, bool) else value
            for name, value in template.items()
        }

    @field_validator("template")
    @classmethod
    def _fits_the_channel(cls, template: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        """Each problem at the template field it concerns. The fields a channel reads are
        not known while the channel is unknown (that is reported on `channel`)."""
        problems: list[tuple[Location, str]] = []
        if "channel" in info.data:
            problems += _channel_problems(channel_class(info.data["channel"]), template)
        for name, source in template.items():
            try:
                check_template(name, source)
            except TemplateError as exc:
                problems.append(((name,), f"template field {shown(name)} does not compile: {exc}"))
        if problems:
            raise problems_at(cls.__name__, "template", problems)
        return template

    def advance(self, position: Position, context: EnrollmentContext, now: datetime) -> SendStep:
        return self  # the policy decides; `apply_decision` moves on


def apply_decision(
    position: Position,
    step: SendStep,
    decision: Decision,
    campaign: CampaignDefinition,
    now: datetime,
) -> None:
    """Move on from a send step once the policy has decided."""
    following = step.next or campaign.following(step.id)
    if isinstance(decision, Allow):
        position.enter(following, now)
    elif isinstance(decision, Defer):
        position.attempt += 1
        position.next_action_at = decision.until
    else:
        assert isinstance(decision, Block)
        if step.on_blocked == "exit":
            position.finish("exited", "blocked", now)  # the rule is on the blocked touch
        else:
            position.enter(following, now)


def _channel_problems(
    adapter: type[Channel], template: dict[str, str]
) -> list[tuple[Location, str]]:
    """Template fields the channel does not read, or needs and lacks, and what the channel
    itself finds wrong."""
    fields = adapter.template_fields
    problems: list[tuple[Location, str]] = [
        ((name,), f"unknown template field {shown(name)}")
        for name in sorted(template.keys() - fields.known)
    ]
    problems += [
        ((name,), f"template field {name!r} is missing")
        for name in sorted(fields.required - template.keys())
    ]
    if fields.one_of and not fields.one_of & template.keys():
        problems.append(((), f"the template needs one of {', '.join(sorted(fields.one_of))}"))
    return problems + [
        ((() if problem.field is None else (problem.field,)), problem.message)
        for problem in adapter.check_template(template)
    ]
