"""How close a contact is to every limit: each rule's use, and when each channel frees up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import Channel
from orchestrator.errors import NotFound
from orchestrator.policy_in_force import policy_in_force
from orchestrator.snapshots import (
    address_hashes,
    contact_facts,
    preferences_of,
    snapshot,
    suppressed_channels,
)
from orchestrator.store.contacts import ContactStore
from orchestrator.store.suppressions import SuppressionStore
from orchestrator.store.touches import TouchStore
from policies import Allow, Candidate, Defer, History, evaluate
from policies.rules import PreferenceRule

__all__ = ["ChannelPressure", "Pressure", "PressureService", "RulePressure"]


@dataclass(frozen=True)
class RulePressure:
    """One rule now: what is used of what limit, and when it next lets a touch through."""

    name: str
    type: str
    channels: list[str]
    used: float | None
    limit: float | None
    next_free: datetime | None


@dataclass(frozen=True)
class ChannelPressure:
    """When a marketing touch on the channel could go, and what decides it."""

    channel: str
    decision: str
    next_allowed: datetime | None
    rule: str | None
    reason: str | None


@dataclass(frozen=True)
class Pressure:
    policy_version: int
    at: datetime
    rules: list[RulePressure]
    channels: list[ChannelPressure]


class PressureService:
    """Reads a contact's pressure under the policy in force."""

    def __init__(self, session: AsyncSession, channels: Mapping[str, Channel]) -> None:
        self._session = session
        self._channels = channels

    async def pressure(self, contact_id: int, now: datetime) -> Pressure:
        contact = await ContactStore(self._session).get(contact_id)
        if contact is None:
            raise NotFound(f"contact {contact_id} does not exist")
        in_force = await policy_in_force(self._session)
        policy = in_force.policy
        touches = await TouchStore(self._session).counted_since(
            [contact_id], now - policy.longest_window
        )
        history = History(touch for _, touch in touches)
        costs = {name: policy.weight(name) for name in self._channels}
        rules = []
        for rule in policy.rules:
            if isinstance(rule, PreferenceRule):  # a cap for each channel the contact capped
                for channel, reading in rule.readings(
                    history, preferences_of(contact), now
                ).items():
                    rules.append(RulePressure(rule.name, rule.type, [channel], *reading))
                continue
            reading = rule.reading(history, costs, contact.timezone, now)
            rules.append(RulePressure(rule.name, rule.type, rule.channels, *reading))

        hashes = address_hashes(contact)
        every_hash = {h for found in hashes.values() for h in found}
        rows = await SuppressionStore(self._session).matching([contact_id], every_hash)
        suppressed = suppressed_channels(contact, hashes, rows)
        facts = contact_facts(contact, suppressed)
        seen = snapshot(contact)
        channels = []
        for name, adapter in sorted(self._channels.items()):
            address = adapter.address(seen, adapter.probe_content(seen))
            candidate = Candidate(name, "marketing", address)
            decision = evaluate(candidate, history, policy, facts, now)
            if isinstance(decision, Allow):
                channels.append(ChannelPressure(name, "allow", now, None, None))
            elif isinstance(decision, Defer):
                channels.append(
                    ChannelPressure(name, "defer", decision.until, decision.rule, decision.reason)
                )
            else:
                channels.append(
                    ChannelPressure(name, "block", None, decision.rule, decision.reason)
                )
        return Pressure(in_force.version, now, rules, channels)
