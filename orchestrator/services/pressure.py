"""How close a contact is to every limit: each rule's use, and when each channel frees up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import Channel
from orchestrator.errors import NotFound
from orchestrator.services.policies import policy_in_force
from orchestrator.snapshots import address_hashes, snapshot, suppressed_channels
from orchestrator.store.contacts import ContactStore
from orchestrator.store.suppressions import SuppressionStore
from orchestrator.store.touches import TouchStore
from policies import Allow, Candidate, ContactFacts, Defer, History, evaluate
from policies.model import CapRule, MinGapRule, QuietHoursRule
from policies.rules.cap import cap_earliest, cap_used, counted
from policies.rules.gap import gap_earliest, last_within
from policies.rules.quiet_hours import next_opening

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
        rules = []
        for rule in policy.rules:
            if isinstance(rule, CapRule):
                used = cap_used(rule, counted(rule, history, now))
                # What the lightest touch the cap counts would need (one touch, or points).
                cost = min(
                    (policy.weight(ch) for ch in self._channels if rule.applies_to(ch)), default=1
                )
                free = cap_earliest(rule, history, cost if rule.unit == "weight" else 1, now)
                rules.append(
                    RulePressure(rule.name, rule.type, rule.channels, used, rule.max, free)
                )
            elif isinstance(rule, MinGapRule):
                last = last_within(rule, history, now)
                rules.append(
                    RulePressure(rule.name, rule.type, rule.channels, 1 if last else 0, 1,
                                 gap_earliest(rule, history, now))
                )  # fmt: skip
            else:
                assert isinstance(rule, QuietHoursRule)
                opens = next_opening(rule, now, contact.timezone)
                rules.append(RulePressure(rule.name, rule.type, rule.channels, None, None, opens))

        hashes = address_hashes(contact)
        every_hash = {h for found in hashes.values() for h in found}
        rows = await SuppressionStore(self._session).matching([contact_id], every_hash)
        suppressed = suppressed_channels(contact, hashes, rows)
        facts = ContactFacts(contact.timezone, contact.consent, contact.paused_until, suppressed)
        seen = snapshot(contact)
        channels = []
        for name, adapter in sorted(self._channels.items()):
            content = {"network": next(iter(seen.social), "")} if name == "sns" else {}
            candidate = Candidate(name, "marketing", adapter.address(seen, content))
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
