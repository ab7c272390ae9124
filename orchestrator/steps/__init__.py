"""Steps: one module per step type (its model, where it leads, how it moves an enrollment
on), the registry that makes their union, and the campaign checks over their graph."""

from orchestrator.steps.base import Progress, StepBase
from orchestrator.steps.branch import BranchCase, BranchStep
from orchestrator.steps.enrollment import MAX_STEPS_PER_PASS, EnrollmentContext, Position, advance
from orchestrator.steps.exit import ExitStep
from orchestrator.steps.registry import STEP_TYPES, AnyStep, Step
from orchestrator.steps.send import SendStep, apply_decision
from orchestrator.steps.split import SplitStep, Variant, split_choice
from orchestrator.steps.wait import UntilTime, WaitStep, next_time_of_day
from orchestrator.steps.wait_for_event import EventCase, WaitForEventStep

__all__ = [
    "MAX_STEPS_PER_PASS",
    "STEP_TYPES",
    "AnyStep",
    "BranchCase",
    "BranchStep",
    "EnrollmentContext",
    "EventCase",
    "ExitStep",
    "Position",
    "Progress",
    "SendStep",
    "SplitStep",
    "Step",
    "StepBase",
    "UntilTime",
    "Variant",
    "WaitForEventStep",
    "WaitStep",
    "advance",
    "apply_decision",
    "next_time_of_day",
    "split_choice",
]
