"""The policy's use cases: read it, its versions, and replace it (a new version, checked
whole against the installed channels)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.registry import channel_names
from orchestrator.clock import Clock
from orchestrator.errors import InvalidInput, NotFound, json_path, problems
from orchestrator.models import PolicyVersion
from orchestrator.models.checks import storable
from orchestrator.policy_in_force import (
    PolicyInForce,
    default_policy,
    in_force,
    policy_document,
    policy_in_force,
)
from orchestrator.store.policies import PolicyStore
from policies import Policy

__all__ = ["PolicyService", "defaulted", "parse_policy"]


def parse_policy(data: Any) -> Policy:
    """A valid policy for this installation, or InvalidInput listing every problem (shape,
    repeated rule names, unknown channels) at its path."""
    errors: list[ErrorDetails] = []
    try:
        storable(data)
    except ValidationError as exc:
        errors += exc.errors(include_url=False, include_input=False)
    try:
        policy = Policy.checked(data, channel_names())
    except ValidationError as exc:
        # A place reported as unstorable is not reported again for its type.
        reported = {tuple(error["loc"]) for error in errors}
        errors += [
            error
            for error in exc.errors(include_url=False, include_input=False)
            if tuple(json_path(error["loc"])) not in reported
        ]
    if not errors:
        return policy
    found = problems(errors)
    for problem in found:
        problem["loc"] = ["body", *problem["loc"]]
    count = len(found)
    raise InvalidInput(f"the policy has {count} problem{'s' if count != 1 else ''}", errors=found)


def defaulted(data: Any) -> list[str]:
    """What a valid policy document leaves to the defaults: without `rules` there are none;
    a channel without a weight or a consent mode keeps its adapter's."""
    given: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
    names = sorted(channel_names())
    found = [] if "rules" in given else ["rules"]
    for part in ("weights", "consent"):
        said = given.get(part) or {}
        found += [f"{part}.{name}" for name in names if name not in said]
    return found


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
            return default_policy()
        stored = await self._policies.get(number)
        if stored is None:
            raise NotFound(f"there is no policy version {number}")
        return in_force(stored)

    async def versions(self) -> list[PolicyInForce]:
        """Every stored version, newest first."""
        return [in_force(stored) for stored in await self._policies.all()]

    async def replace(self, policy: Policy, author: str | None) -> PolicyInForce:
        """Store `policy` (as `parse_policy` reads it) as the next version; the dispatcher
        uses it from its next batch."""
        document = policy_document(policy)
        parse_policy(document)  # a policy built by hand meets the installation's channels too
        await self._policies.lock_numbering()
        stored = PolicyVersion(
            version=await self._policies.next_version(),
            document=document,
            created_by=author,
            created_at=self._clock.now(),
        )
        await self._policies.add(stored)
        return in_force(stored)
