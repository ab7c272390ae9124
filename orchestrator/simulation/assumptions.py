"""What a simulation assumes the contacts do: open and click rates for messages, outcome
shares for tasks, and the seed that makes the draws repeatable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from channels.base import Channel
from orchestrator.errors import InvalidInput

__all__ = ["Assumptions", "check_assumptions", "outcome_shares"]

Rate = Annotated[float, Field(ge=0, le=1)]


class Assumptions(BaseModel):
    """Assumed engagement. A task channel missing from `outcomes` has its tasks completed
    with its most neutral outcome (`no_answer`, `mailed`, `sent`, else the first by name)."""

    model_config = ConfigDict(extra="forbid")

    open_rate: Rate = 0.0
    click_rate: Rate = Field(
        default=0.0, description="share of sent messages clicked (a click is also an open)"
    )
    outcomes: dict[str, dict[str, Annotated[float, Field(ge=0)]]] = Field(
        default_factory=dict,
        description='task outcomes by channel, as shares: {"phone": {"interested": 0.2, ...}}',
    )
    seed: int = Field(default=1, ge=0, le=2**63 - 1)


#: Outcomes that neither advance nor end a journey, in order of preference.
_NEUTRAL = ("no_answer", "mailed", "sent")


def check_assumptions(assume: Assumptions, channels: Mapping[str, Channel]) -> None:
    """InvalidInput listing every outcome share that names no task channel or outcome here,
    or a channel whose shares add up to nothing."""
    errors: list[dict[str, Any]] = []
    for name, shares in assume.outcomes.items():
        loc: list[Any] = ["body", "assume", "outcomes", name]
        channel = channels.get(name)
        if channel is None or channel.mode != "task":
            tasks = sorted(n for n, c in channels.items() if c.mode == "task")
            msg = f"not a task channel here; task channels: {', '.join(tasks)}"
            errors.append({"loc": loc, "msg": msg, "type": "channel"})
            continue
        for outcome in sorted(shares.keys() - channel.outcomes):
            msg = f"not an outcome of {name} tasks; one of {', '.join(sorted(channel.outcomes))}"
            errors.append({"loc": [*loc, outcome], "msg": msg, "type": "outcome"})
        if sum(shares.values()) <= 0:
            errors.append({"loc": loc, "msg": "the shares add up to 0", "type": "shares"})
    if errors:
        count = len(errors)
        raise InvalidInput(
            f"the assumptions have {count} problem{'s' if count != 1 else ''}", errors=errors
        )


def outcome_shares(assume: Assumptions, channel: Channel) -> tuple[list[str], list[float]]:
    """The outcomes a task on `channel` may get, and their shares."""
    given = assume.outcomes.get(channel.name)
    if given:
        names = sorted(given)
        return names, [given[name] for name in names]
    known = sorted(channel.outcomes)
    neutral = next((name for name in _NEUTRAL if name in channel.outcomes), None)
    return [neutral or (known[0] if known else "done")], [1.0]
