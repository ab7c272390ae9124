"""Conditions (branches, audiences, event matches): their models, and how they are judged
against plain facts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator

from orchestrator.definition_fields import KnownChannel, StepId, Strict

__all__ = [
    "AllCondition",
    "AnyCondition",
    "AttributeCondition",
    "Condition",
    "ConsentCondition",
    "EventCondition",
    "EventFact",
    "Facts",
    "NotCondition",
    "contains",
    "first_match",
    "holds",
    "matches",
    "named_steps",
    "suspected_bot",
]

_MISSING = object()


class AttributeCondition(Strict):
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


class ConsentCondition(Strict):
    """The contact's current consent on a channel."""

    consent: KnownChannel
    is_: Literal["opted_in", "opted_out", "unknown"] = Field(alias="is")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EventCondition(Strict):
    """An event of this type happened (in this enrollment; in a `wait_for_event`, since the
    step was entered), optionally about the touch a step made and with data like this."""

    event: str = Field(min_length=1, max_length=64)
    step: StepId | None = None
    data: dict[str, Any] | None = None


class AllCondition(Strict):
    all: list[Condition] = Field(min_length=1)


class AnyCondition(Strict):
    any: list[Condition] = Field(min_length=1)


class NotCondition(Strict):
    not_: Condition = Field(alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_CONDITION_KEYS = ("all", "any", "not", "consent", "event", "attribute", "field")
_MODELS: dict[str, type[Strict]] = {
    "all": AllCondition,
    "any": AnyCondition,
    "not": NotCondition,
    "consent": ConsentCondition,
    "event": EventCondition,
    "attribute": AttributeCondition,
    "field": AttributeCondition,
}


def _key(raw: Mapping[str, Any]) -> str | None:
    """The key that says which kind of condition a dict is."""
    return next((key for key in _CONDITION_KEYS if key in raw), None)


def _condition_kind(value: Any) -> str | None:
    """The member of `Condition` a dict (by its key) or a built condition is. Members are
    tagged by class name, which no key of the JSON is mistaken for in an error's path."""
    if isinstance(value, dict):
        key = _key(value)
        return _MODELS[key].__name__ if key else None
    return type(value).__name__ if type(value) in _MODELS.values() else None


Condition = Annotated[
    Annotated[AllCondition, Tag("AllCondition")]
    | Annotated[AnyCondition, Tag("AnyCondition")]
    | Annotated[NotCondition, Tag("NotCondition")]
    | Annotated[ConsentCondition, Tag("ConsentCondition")]
    | Annotated[EventCondition, Tag("EventCondition")]
    | Annotated[AttributeCondition, Tag("AttributeCondition")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition",
        custom_error_message=f"a condition has one of the keys {', '.join(_CONDITION_KEYS)}",
    ),
]


for _model in (AllCondition, AnyCondition, NotCondition):
    _model.model_rebuild()


def named_steps(
    raw: Any, loc: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """The `step` of every event condition in a condition as sent, with its place. It reads
    any shape, so a campaign's steps are checked even where the condition is broken."""
    kind = _key(raw) if isinstance(raw, Mapping) else None
    if kind == "event" and "step" in raw:
        yield (*loc, "step"), raw["step"]
    elif kind in ("all", "any") and isinstance(raw[kind], list):
        for number, inner in enumerate(raw[kind]):
            yield from named_steps(inner, (*loc, kind, number))
    elif kind == "not":
        yield from named_steps(raw["not"], (*loc, "not"))


@dataclass(frozen=True)
class EventFact:
    """An event as conditions see it; `step_id` is set when it concerns a touch of the
    enrollment being judged (a click on the mail `mail1` sent)."""

    type: str
    data: Mapping[str, Any]
    occurred_at: datetime
    step_id: str | None = None


@dataclass(frozen=True)
class Facts:
    """A contact's fields (as a dict), its consent, and the events that count."""

    contact: Mapping[str, Any]
    consent: Mapping[str, str]
    events: tuple[EventFact, ...] = ()


def holds(condition: Condition, facts: Facts) -> bool:
    """Whether `condition` is true of `facts`."""
    if isinstance(condition, AllCondition):
        return all(holds(inner, facts) for inner in condition.all)
    if isinstance(condition, AnyCondition):
        return any(holds(inner, facts) for inner in condition.any)
    if isinstance(condition, NotCondition):
        return not holds(condition.not_, facts)
    if isinstance(condition, ConsentCondition):
        return facts.consent.get(condition.consent, "unknown") == condition.is_
    if isinstance(condition, EventCondition):
        return any(matches(condition, event) for event in facts.events)
    assert isinstance(condition, AttributeCondition)
    return _compare(condition, _subject(condition, facts.contact))


def matches(condition: EventCondition, event: EventFact) -> bool:
    """Whether one event is of the type, about the step, and with the data asked for. An
    event flagged `suspected_bot` (a link scanner's click) matches nothing."""
    if event.type != condition.event or suspected_bot(event.data):
        return False
    if condition.step is not None and event.step_id != condition.step:
        return False
    return contains(event.data, condition.data or {})


def suspected_bot(data: Mapping[str, Any]) -> bool:
    """Whether an event's data flag it as a link scanner's (`"suspected_bot": true`): such
    an event is kept, and moves no enrollment."""
    return data.get("suspected_bot") is True


def first_match(
    cases: Iterable[tuple[EventCondition, str]], events: Iterable[EventFact]
) -> str | None:
    """The target of the first case (in case order) that some event matches."""
    events = tuple(events)
    for condition, target in cases:
        if any(matches(condition, event) for event in events):
            return target
    return None


def contains(data: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    for key, value in wanted.items():
        have = data.get(key, _MISSING)
        if isinstance(value, dict):
            if not isinstance(have, dict) or not contains(have, value):
                return False
        elif have != value:
            return False
    return True


def _subject(condition: AttributeCondition, contact: Mapping[str, Any]) -> Any:
    if condition.attribute is not None:
        value: Any = contact.get("attributes") or {}
        path = condition.attribute.split(".")
    else:
        assert condition.field is not None
        value, path = contact, condition.field.split(".")
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _compare(condition: AttributeCondition, value: Any) -> bool:
    if condition.op == "exists":
        present = value is not _MISSING and value is not None
        return present if condition.value in (None, True) else not present
    if value is _MISSING:
        return condition.op == "ne"
    if condition.op == "eq":
        return bool(value == condition.value)
    if condition.op == "ne":
        return bool(value != condition.value)
    if condition.op == "in":
        return value in condition.value
    try:
        if condition.op == "gt":
            return bool(value > condition.value)
        return bool(value < condition.value)
    except TypeError:
        return False  # a number compared with a string: not true either way
