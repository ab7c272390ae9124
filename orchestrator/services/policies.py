"""The policy: read, replace (a new version, checked whole), and what is in force now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.registry import channel_names
from orchestrator.clock import Clock
from orchestrator.errors import InvalidInput, NotFound, problems
from orchestrator.models import PolicyVersion
from orchestrator.store.policies import PolicyStore
from policies import Policy

__all__ = [
    "PolicyInForce",
    "PolicyService",
    "check_policy",
    "parse_policy",
    "policy_in_force",
]

#: Parsed documents, by their canonical JSON: the dispatcher reads the policy every batch.
_PARSED: dict[bytes, Policy] = {}


@dataclass(frozen=True)
class PolicyInForce:
    """A policy document with its version (0: the built-in default, none stored yet)."""

    version: int
    policy: Policy
    document: dict[str, Any]
    created_at: datetime | None = None
    created_by: str | None = None


def parse_policy(data: Any) -> Policy:
    """A valid policy, or InvalidInput listing every problem with its path."""
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        found = problems(exc.errors(include_url=False, include_input=False))
        for problem in found:
            problem["loc"] = ["body", *problem["loc"]]
        raise InvalidInput(f"the policy has {len(found)} problem(s)", errors=found) from exc
    check_policy(policy)
    return policy


def check_policy(policy: Policy) -> None:
    """Raise InvalidInput if the policy names channels this installation does not have."""
    unknown = sorted(policy.channel_names() - channel_names())
    if unknown:
        raise InvalidInput(
            f"the policy names unknown channels: {', '.join(unknown)}",
            errors=[
                {"loc": ["body"], "msg": f"unknown channel {name!r}", "type": "channel"}
                for name in unknown
            ],
        )


async def policy_in_force(session: AsyncSession) -> PolicyInForce:
    """The newest stored version, or the default before any is stored."""
    stored = await PolicyStore(session).current()
    if stored is None:
        default = Policy()
        return PolicyInForce(0, default, _document(default))
    return _in_force(stored)


def _in_force(stored: PolicyVersion) -> PolicyInForce:
    key = orjson.dumps(stored.document, option=orjson.OPT_SORT_KEYS)
    policy = _PARSED.get(key)
    if policy is None:
        policy = _PARSED[key] = Policy.model_validate(stored.document)
    return PolicyInForce(
        stored.version, policy, stored.document, stored.created_at, stored.created_by
    )


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
            default = Policy()
            return PolicyInForce(0, default, _document(default))
        stored = await self._policies.get(number)
        if stored is None:
            raise NotFound(f"there is no policy version {number}")
        return _in_force(stored)

    async def versions(self) -> list[PolicyInForce]:
        """Every stored version, newest first."""
        return [_in_force(stored) for stored in await self._policies.all()]

    async def replace(self, policy: Policy, author: str | None) -> PolicyInForce:
        """Store `policy` as the next version; the dispatcher uses it from its next batch."""
        check_policy(policy)
        await self._policies.lock_numbering()
        stored = PolicyVersion(
            version=await self._policies.next_version(),
            document=_document(policy),
            created_by=author,
            created_at=self._clock.now(),
        )
        await self._policies.add(stored)
        return _in_force(stored)
