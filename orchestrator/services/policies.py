"""The policy: read, replace (a new version, checked whole), and what is in force now.

A document says what it wants; the channels it leaves out keep their adapters' default
weight and consent mode, so a channel installed later is covered by the policy in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.registry import channel_class, channel_names
from orchestrator.clock import Clock
from orchestrator.errors import InvalidInput, NotFound, problems
from orchestrator.models import PolicyVersion
from orchestrator.store.policies import PolicyStore
from policies import Policy

__all__ = ["PolicyInForce", "PolicyService", "parse_policy", "policy_in_force"]

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


def parse_policy(data: Any) -> Policy:
    """A valid policy for this installation, or InvalidInput listing every problem (shape,
    repeated rule names, unknown channels) at its path."""
    try:
        return Policy.checked(data, channel_names())
    except ValidationError as exc:
        found = problems(exc.errors(include_url=False, include_input=False))
        for problem in found:
            problem["loc"] = ["body", *problem["loc"]]
        raise InvalidInput(f"the policy has {len(found)} problem(s)", errors=found) from exc


async def policy_in_force(session: AsyncSession) -> PolicyInForce:
    """The newest stored version, or the default before any is stored."""
    stored = await PolicyStore(session).current()
    return _default() if stored is None else _in_force(stored)


def _default() -> PolicyInForce:
    """Version 0: no rules, each channel with its adapter's weight and consent mode."""
    document = _document(Policy())
    return PolicyInForce(0, _completed(document), document)


def _in_force(stored: PolicyVersion) -> PolicyInForce:
    policy = _completed(stored.document)
    return PolicyInForce(
        stored.version, policy, stored.document, stored.created_at, stored.created_by
    )


def _completed(document: dict[str, Any]) -> Policy:
    """The stored `document` with the installed channels' defaults where it says nothing."""
    key = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    policy = _PARSED.get(key)
    if policy is None:
        names = sorted(channel_names())
        policy = _PARSED[key] = Policy.model_validate(document).with_defaults(
            weights={name: channel_class(name).default_weight for name in names},
            consent={name: channel_class(name).default_consent for name in names},
        )
    return policy


def _document(policy: Policy) -> dict[str, Any]:
    return policy.model_dump(mode="json", by_alias=True, exclude_none=True)


class PolicyService:
    """Policy versions in one unit of work."""

    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._session = session
        self._policies = PolicyStore(session)
        self._clock = clock

    async def current(self) -> PolicyInForce:
        """The policy in force: the newest version, or the default before any is stored."""
        return await policy_in_force(self._session)

    async def version(self, number: int) -> PolicyInForce:
        """One stored version (0: the default)."""
        if number == 0:
            return _default()
        stored = await self._policies.get(number)
        if stored is None:
            raise NotFound(f"there is no policy version {number}")
        return _in_force(stored)

    async def versions(self) -> list[PolicyInForce]:
        """Every stored version, newest first."""
        return [_in_force(stored) for stored in await self._policies.all()]

    async def replace(self, policy: Policy, author: str | None) -> PolicyInForce:
        """Store `policy` (as `parse_policy` reads it) as the next version; the dispatcher
        uses it from its next batch."""
        document = _document(policy)
        parse_policy(document)  # a policy built by hand meets the installation's channels too
        await self._policies.lock_numbering()
        stored = PolicyVersion(
            version=await self._policies.next_version(),
            document=document,
            created_by=author,
            created_at=self._clock.now(),
        )
        await self._policies.add(stored)
        return _in_force(stored)
