"""The policy document: channel weights, consent modes, and the rules.

A document's problems are found in one pass and answered together: its shape, repeated
rule names and, read with `Policy.checked`, the channels the installation does not have.
Names and channels are read from the raw document, so a rule whose shape is broken still
takes part. The weights and consent modes of the channels a document leaves out are the
channels' own; whoever knows the channels fills them in (`Policy.with_defaults`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import timedelta
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from policies.preferences import Topic
from policies.rules import PreferenceRule, Rule
from policies.rules.preference import PREFERENCE

__all__ = ["ConsentMode", "Policy", "Rule"]

#: `opt_in`: a marketing touch needs an `opted_in` record; `opt_out`: allowed until an
#: `opted_out`.
ConsentMode = Literal["opt_in", "opt_out"]

#: The context key under which `Policy.checked` passes the installation's channel names.
_CHANNELS = "channels"


class Policy(BaseModel):
    """The installation's contact-frequency policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: dict[str, Annotated[float, Field(ge=0, le=100)]] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list, max_length=100)
    consent: dict[str, ConsentMode] = Field(default_factory=dict)
    topics: list[Topic] = Field(
        default_factory=list,
        max_length=100,
        description="what marketing campaigns are about (`新製品`, `セミナー`): a campaign "
        "names one as its `topic`, a contact chooses among them in its preferences",
    )

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(
        cls, data: Any, handler: ModelWrapValidatorHandler[Policy], info: ValidationInfo
    ) -> Policy:
        context = info.context if isinstance(info.context, Mapping) else {}
        found = [
            *_repeated_names(data),
            *_repeated_topics(data),
            *_unknown_channels(data, context.get(_CHANNELS)),
        ]
        try:
            policy = handler(data)
        except ValidationError as exc:
            raise ValidationError.from_exception_data(exc.title, [*_details(exc), *found]) from None
        if found:
            raise ValidationError.from_exception_data(cls.__name__, found)
        return policy

    @classmethod
    def checked(cls, data: Any, channels: Collection[str]) -> Policy:
        """`data` as a policy of an installation with `channels`; ValidationError lists
        every problem, unknown channels included."""
        return cls.model_validate(data, context={_CHANNELS: frozenset(channels)})

    def with_defaults(
        self, weights: Mapping[str, float], consent: Mapping[str, ConsentMode]
    ) -> Policy:
        """The policy with `weights` and `consent` for the channels it does not mention."""
        return self.model_copy(
            update={
                "weights": {**weights, **self.weights},
                "consent": {**consent, **self.consent},
            }
        )

    def with_preference_rule(self) -> Policy:
        """The policy with the contact's preferences in force: the `preference` rule last,
        unless the document places it (no document can leave it out)."""
        if any(rule.type == PREFERENCE for rule in self.rules):
            return self
        completed = self.model_copy(
            update={"rules": [*self.rules, PreferenceRule(type=PREFERENCE)]}
        )
        # A copy takes the cached properties along: this one depends on the rules.
        completed.__dict__.pop("longest_window", None)
        return completed

    def weight(self, channel: str, override: float | None = None) -> float:
        """What one touch on `channel` costs (a step may set its own weight)."""
        return override if override is not None else self.weights.get(channel, 1.0)

    @cached_property
    def longest_window(self) -> timedelta:
        """How far back the rules look: the history a decision needs."""
        return max((rule.lookback for rule in self.rules), default=timedelta(0))


def _details(exc: ValidationError) -> Iterator[InitErrorDetails]:
    """The errors of `exc` as they are raised again."""
    for error in exc.errors():
        # Their messages as they are: a custom error type (an unknown rule type) has no
        # built-in message to make again.
        kind = PydanticCustomError(error["type"], error["msg"])
        yield InitErrorDetails(type=kind, loc=error["loc"], input=error["input"])


def _problem(loc: tuple[str | int, ...], value: Any, message: str) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=value)


def _raw_rules(data: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The rules of a document as sent, by their index, whatever their shape."""
    rules = data.get("rules") if isinstance(data, Mapping) else None
    if isinstance(rules, list):
        for index, rule in enumerate(rules):
            if isinstance(rule, Mapping):
                yield index, rule


def _repeated_names(data: Any) -> Iterator[InitErrorDetails]:
    """Each rule named like an earlier one, at its `name`."""
    first: dict[str, int] = {}
    for index, rule in _raw_rules(data):
        name = rule.get("name")
        if not isinstance(name, str):
            continue
        if name == PREFERENCE and rule.get("type") != PREFERENCE:
            message = f"{PREFERENCE!r} is the name of the contact's preferences rule"
            yield _problem(("rules", index, "name"), name, message)
        if name in first:
            message = f"rule names must be unique: {name!r} is also the name of rule {first[name]}"
            yield _problem(("rules", index, "name"), name, message)
        else:
            first[name] = index


def _repeated_topics(data: Any) -> Iterator[InitErrorDetails]:
    """Each topic listed before, at its place."""
    topics = data.get("topics") if isinstance(data, Mapping) else None
    if isinstance(topics, list):
        seen: set[str] = set()
        for index, topic in enumerate(topics):
            if isinstance(topic, str) and topic in seen:
                yield _problem(("topics", index), topic, f"the topic {topic!r} is listed twice")
            if isinstance(topic, str):
                seen.add(topic)


def _unknown_channels(data: Any, known: Collection[str] | None) -> Iterator[InitErrorDetails]:
    """Each channel named in the weights, the consent modes or a rule that is not `known`,
    where it is named (nothing when the channels are not known)."""
    if known is None or not isinstance(data, Mapping):
        return

    def unknown(name: str) -> str:
        return f"unknown channel {name!r}; known: {', '.join(sorted(known))}"

    for field in ("weights", "consent"):
        named = data.get(field)
        if isinstance(named, Mapping):
            for name in named:
                if isinstance(name, str) and name not in known:
                    yield _problem((field, name), name, unknown(name))
    for index, rule in _raw_rules(data):
        channels = rule.get("channels")
        if isinstance(channels, list):
            for position, name in enumerate(channels):
                if isinstance(name, str) and name != "*" and name not in known:
                    yield _problem(("rules", index, "channels", position), name, unknown(name))
