"""The rule types, one module each: its model, when it lets a touch through, why it holds
one back, and how much of it a contact uses. A new rule type is a module with a `RuleBase`
subclass and one more member of the `Rule` union below."""

from __future__ import annotations

from typing import Annotated, get_args

from pydantic import Field

from policies.rules.base import Reading, RuleBase
from policies.rules.cap import CapRule
from policies.rules.gap import MinGapRule
from policies.rules.quiet_hours import QuietHoursRule

__all__ = ["RULE_TYPES", "CapRule", "MinGapRule", "QuietHoursRule", "Reading", "Rule", "RuleBase"]

#: A rule of the policy document, told apart by its `type`.
Rule = Annotated[CapRule | MinGapRule | QuietHoursRule, Field(discriminator="type")]

_MODELS: tuple[type[RuleBase], ...] = get_args(get_args(Rule)[0])

#: The `type` of every rule type (`cap`, `min_gap`, ...), in the order of the union.
RULE_TYPES: tuple[str, ...] = tuple(
    tag for model in _MODELS for tag in get_args(model.model_fields["type"].annotation)
)
