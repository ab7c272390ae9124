"""`split`: send each contact down one variant, chosen by a stable hash of contact and
campaign."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator

from orchestrator.definition_fields import StepId, Strict, problems_at
from orchestrator.steps.base import FieldPath, Progress, StepBase

if TYPE_CHECKING:
    from orchestrator.steps.enrollment import EnrollmentContext, Position

__all__ = ["SplitStep", "Variant", "split_choice"]


class Variant(Strict):
    name: str = Field(min_length=1, max_length=100)
    weight: float = Field(gt=0)
    next: StepId


class SplitStep(StepBase):
    """Send each contact down one variant, chosen by a stable hash of contact and campaign."""

    type: Literal["split"]
    variants: list[Variant] = Field(min_length=1)

    target_fields: ClassVar[tuple[FieldPath, ...]] = (("variants", "*", "next"),)

    @field_validator("variants")
    @classmethod
    def _unique_names(cls, variants: list[Variant]) -> list[Variant]:
        seen: set[str] = set()
        twice = []
        for number, variant in enumerate(variants):
            if variant.name in seen:
                twice.append(((number, "name"), f"variant name {variant.name!r} is used twice"))
            seen.add(variant.name)
        if twice:
            raise problems_at(cls.__name__, "value_error", twice)
        return variants

    def advance(self, position: Position, context: EnrollmentContext, now: datetime) -> Progress:
        position.enter(split_choice(self, context.campaign_id, context.contact_id), now)
        return Progress.MOVED


def split_choice(step: SplitStep, campaign_id: int, contact_id: int) -> str:
    """The variant's next step for this contact: stable across passes and processes."""
    digest = hashlib.sha256(f"{campaign_id}:{contact_id}:{step.id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(v.weight for v in step.variants)
    for variant in step.variants:
        point -= variant.weight
        if point < 0:
            return variant.next
    return step.variants[-1].next
