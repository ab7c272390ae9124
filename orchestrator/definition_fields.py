"""The small types campaign definitions are made of: strict models, step ids, channel
names and time zones. Conditions and steps both build on them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from channels.registry import channel_names
from orchestrator.contact_fields import check_timezone
from policies.durations import Duration

__all__ = [
    "ChannelName",
    "Cooldown",
    "KnownChannel",
    "Location",
    "Reentry",
    "StepId",
    "Strict",
    "TimeZone",
    "problems_at",
]

#: A place in a definition as the client's JSON has it: keys and list positions.
Location = tuple[str | int, ...]

StepId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
ChannelName = Annotated[str, Field(min_length=1, max_length=32)]


class Strict(BaseModel):
    """A part of a definition: unknown keys are refused, and nothing changes once parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _known_channel(name: str) -> str:
    if name not in channel_names():
        known = ", ".join(sorted(channel_names()))
        raise ValueError(f"unknown channel {name!r}; known: {known}")
    return name


KnownChannel = Annotated[ChannelName, AfterValidator(_known_channel)]
TimeZone = Annotated[str, AfterValidator(check_timezone)]


def problems_at(title: str, kind: str, found: Iterable[tuple[Location, str]]) -> ValidationError:
    """A ValidationError with each problem at its own place, for a validator to raise:
    pydantic puts the path of the value being validated in front of each place."""
    return ValidationError.from_exception_data(
        title,
        [
            InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=None)
            for loc, message in found
        ],
    )


class Cooldown(Strict):
    cooldown: Duration


def _reentry_kind(value: Any) -> str:
    return "cooldown" if isinstance(value, Mapping | Cooldown) else "rule"


#: `never`, `after_exit` or `{"cooldown": <duration>}`, told apart by the value's shape, so
#: a problem is reported in the words of the form the client chose.
Reentry = Annotated[
    Annotated[Literal["never", "after_exit"], Tag("rule")] | Annotated[Cooldown, Tag("cooldown")],
    Discriminator(_reentry_kind),
]
