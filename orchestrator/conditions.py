"""Evaluating conditions (branches, audiences, event matches) against plain facts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.definitions import (
    AllCondition,
    AnyCondition,
    AttributeCondition,
    Condition,
    ConsentCondition,
    EventCondition,
    NotCondition,
)

__all__ = ["EventFact", "Facts", "contains", "first_match", "holds", "matches"]

_MISSING = object()


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
    """Whether one event is of the type, about the step, and with the data asked for."""
    if event.type != condition.event:
        return False
    if condition.step is not None and event.step_id != condition.step:
        return False
    return contains(event.data, condition.data or {})


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
