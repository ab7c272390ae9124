"""Turning a campaign definition's problems into the API's answer."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from orchestrator.definition_fields import Location
from orchestrator.definitions import CampaignDefinition
from orchestrator.errors import InvalidInput, problems

__all__ = ["parse_campaign"]


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
