"""Turning a campaign definition's problems into the API's answer, and checking it
against the policy in force (its `topic` must be one the policy lists)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from orchestrator.definition_fields import Location
from orchestrator.definitions import CampaignDefinition
from orchestrator.errors import InvalidInput, problems

__all__ = ["check_topic", "parse_campaign"]


def parse_campaign(data: Any, *, location: Location = ("body",)) -> CampaignDefinition:
    """A valid campaign from `data`, or InvalidInput listing every problem, of its shape
    and of its graph of steps, each at its path."""
    try:
        return CampaignDefinition.model_validate(data)
    except ValidationError as exc:
        found = problems(exc.errors(include_url=False, include_input=False))
        for problem in found:
            problem["loc"] = [*location, *problem["loc"]]
        count = len(found)
        raise InvalidInput(
            f"the campaign has {count} problem{'s' if count != 1 else ''}", errors=found
        ) from exc


def check_topic(
    definition: CampaignDefinition, topics: Sequence[str], *, location: Location = ("body",)
) -> None:
    """InvalidInput at `topic` if the campaign names a topic the policy does not list."""
    if definition.topic is None or definition.topic in topics:
        return
    allowed = ", ".join(topics) if topics else "none (the policy lists no topics)"
    raise InvalidInput(
        f"the policy has no topic {definition.topic!r}",
        errors=[{"loc": [*location, "topic"], "msg": f"one of: {allowed}", "type": "topic"}],
    )
