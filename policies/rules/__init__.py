"""The rule types, one module each: its model, when it lets a touch through, why it holds
one back, and how much of it a contact uses. A new rule type is a module with a `RuleBase`
subclass and one more member of the `Rule` union below."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, get_args

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from policies.rules.base import Reading, RuleBase
from policies.rules.cap import CapRule
from policies.rules.gap import MinGapRule
from policies.rules.preference import PreferenceRule
from policies.rules.quiet_hours import QuietHoursRule

__all__ = [
    "RULE_TYPES",
    "CapRule",
    "MinGapRule",
    "PreferenceRule",
    "QuietHoursRule",
    "Reading",
    "Rule",
    "RuleBase",
]

AnyRule = CapRule | MinGapRule | QuietHoursRule | PreferenceRule

_MODELS: tuple[type[RuleBase], ...] = get_args(AnyRule)

#: The `type` of every rule type (`cap`, `min_gap`, ...), in the order of the union.
RULE_TYPES: tuple[str, ...] = tuple(
    tag for model in _MODELS for tag in get_args(model.model_fields["type"].annotation)
)


def _known_type(value: Any) -> Any:
    """A missing or unknown `type` is reported at `type`, naming the types there are."""
    if not isinstance(value, Mapping):
        return value  # pydantic says what a rule is
    kind = value.get("type")
    if isinstance(kind, str) and kind in RULE_TYPES:
        return value
    if "type" not in value:
        error = InitErrorDetails(
            type=PydanticCustomError("missing", "Field required"), loc=("type",), input=None
        )
    else:
        message = f"unknown rule type {kind!r}; known: {', '.join(sorted(RULE_TYPES))}"
        error = InitErrorDetails(
            type=PydanticCustomError("rule_type", message), loc=("type",), input=None
        )
    raise ValidationError.from_exception_data("Rule", [error])


#: A rule of the policy document, told apart by its `type`.
Rule = Annotated[AnyRule, Field(discriminator="type"), BeforeValidator(_known_type)]
