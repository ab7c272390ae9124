"""The policy in force: the newest stored version, completed with the installed channels'
defaults. The engine reads it every batch; the policy service writes new versions.

A document says what it wants; the channels it leaves out keep their adapters' default
weight and consent mode, so a channel installed later is covered by the policy in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.registry import channel_class, channel_names
from orchestrator.models import PolicyVersion
from orchestrator.store.policies import PolicyStore
from policies import Policy

__all__ = ["PolicyInForce", "default_policy", "in_force", "policy_document", "policy_in_force"]

#: Policies in force, by their document's canonical JSON: the dispatcher reads the policy
#: every batch.
_PARSED: dict[bytes, Policy] = {}


@dataclass(frozen=True)
class PolicyInForce:
    """A policy with its version (0: the built-in default, none stored yet): `document` as
    stored, `policy` completed with the installed channels' defaults."""

    version: int
    policy: Policy
    document: dict[str, Any]
    created_at: datetime | None = None
    created_by: str | None = None


async def policy_in_force(session: AsyncSession) -> PolicyInForce:
    """The newest stored version, or the default before any is stored."""
    stored = await PolicyStore(session).current()
    return default_policy() if stored is None else in_force(stored)


def default_policy() -> PolicyInForce:
    """Version 0: no rules but the contact's preferences, each channel with its adapter's
    weight and consent mode."""
    document = policy_document(Policy())
    return PolicyInForce(0, _completed(document), document)


def in_force(stored: PolicyVersion) -> PolicyInForce:
    """A stored version as it is in force: completed with the channels' defaults."""
    policy = _completed(stored.document)
    return PolicyInForce(
        stored.version, policy, stored.document, stored.created_at, stored.created_by
    )


def _completed(document: dict[str, Any]) -> Policy:
    """The stored `document` with the installed channels' defaults where it says nothing,
    and the contact's preferences in force whatever it says."""
    key = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    policy = _PARSED.get(key)
    if policy is None:
        names = sorted(channel_names())
        policy = _PARSED[key] = (
            Policy.model_validate(document)
            .with_defaults(
                weights={name: channel_class(name).default_weight for name in names},
                consent={name: channel_class(name).default_consent for name in names},
            )
            .with_preference_rule()
        )
    return policy


def policy_document(policy: Policy) -> dict[str, Any]:
    """The document a policy is stored as."""
    return policy.model_dump(mode="json", by_alias=True, exclude_none=True)
