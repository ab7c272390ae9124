"""The step types, one line each: adding a step type is a module with its model and a
line here. The campaign schema, its checks and the error paths all read this union."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, get_args

from pydantic import BeforeValidator, Field

from orchestrator.definition_fields import problems_at
from orchestrator.messages import shown
from orchestrator.steps.base import StepBase
from orchestrator.steps.branch import BranchStep
from orchestrator.steps.exit import ExitStep
from orchestrator.steps.send import SendStep
from orchestrator.steps.split import SplitStep
from orchestrator.steps.wait import WaitStep
from orchestrator.steps.wait_for_event import WaitForEventStep

__all__ = ["STEP_TYPES", "AnyStep", "Step"]

AnyStep = (
    SendStep
    | WaitStep
    | WaitForEventStep
    | BranchStep
    | SplitStep
    | ExitStep
)  # fmt: skip


def _type_name(model: type[StepBase]) -> str:
    (name,) = get_args(model.model_fields["type"].annotation)
    return str(name)


#: Each step type's model by its `type`.
STEP_TYPES: dict[str, type[StepBase]] = {_type_name(model): model for model in get_args(AnyStep)}


def _known_type(value: Any) -> Any:
    """A missing or unknown `type` is reported at `type`, with the types there are."""
    if not isinstance(value, Mapping):
        return value  # pydantic says what a step is
    kind = value.get("type")
    if not (isinstance(kind, str) and kind in STEP_TYPES):
        if "type" not in value:
            raise problems_at("Step", "missing", [(("type",), "Field required")])
        known = ", ".join(sorted(STEP_TYPES))
        message = f"unknown step type {shown(kind)}; known: {known}"
        raise problems_at("Step", "step_type", [(("type",), message)])
    return value


#: A step as a definition holds it: the member of `AnyStep` its `type` names.
Step = Annotated[AnyStep, Field(discriminator="type"), BeforeValidator(_known_type)]
