"""The policy API's shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainValidator

from orchestrator.policy_in_force import PolicyInForce
from policies import Policy

__all__ = [
    "ChannelPressurePublic",
    "PolicyDocument",
    "PolicyPublic",
    "PressurePublic",
    "RulePressurePublic",
]


def _as_sent(value: Any) -> Any:
    return value


#: A policy document as the client sent it, documented as a `Policy`. It is read whole by
#: `parse_policy`, which answers every problem at once, where validating the body first
#: would answer its shape alone.
PolicyDocument = Annotated[Any, PlainValidator(_as_sent, json_schema_input_type=Policy)]


class PolicyPublic(BaseModel):
    """A policy version (0: the built-in default, before any policy was stored)."""

    version: int
    document: Policy
    created_at: datetime | None = None
    created_by: str | None = None
    defaulted: list[str] | None = Field(
        default=None,
        description="in the answer to a replacement: what the document left out and so took "
        "from the defaults: `rules` (none at all), `weights.<channel>` and "
        "`consent.<channel>` (the channel adapter's)",
    )

    @classmethod
    def of(cls, in_force: PolicyInForce, defaulted: list[str] | None = None) -> PolicyPublic:
        return cls(
            version=in_force.version,
            document=in_force.policy,
            created_at=in_force.created_at,
            created_by=in_force.created_by,
            defaulted=defaulted,
        )


class RulePressurePublic(BaseModel):
    """One rule now: caps give used and limit; `next_free` is when it next lets a touch by.
    The contact's own caps come as rules of type `preference`, one for each capped channel."""

    name: str
    type: str
    channels: list[str]
    used: float | None
    limit: float | None
    next_free: datetime | None


class ChannelPressurePublic(BaseModel):
    """When a marketing touch on the channel could go (`allow` now, `defer`, `block`)."""

    channel: str
    decision: str = Field(pattern="^(allow|defer|block)$")
    next_allowed: datetime | None
    rule: str | None
    reason: str | None


class PressurePublic(BaseModel):
    """A contact's pressure under the policy in force, at `at`."""

    policy_version: int
    at: datetime
    rules: list[RulePressurePublic]
    channels: list[ChannelPressurePublic]
