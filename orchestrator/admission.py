"""Admission: the policy's decision for every touch a batch asks for, in priority order.

Everything a decision needs is loaded once for the batch (the policy in force, the
contacts' counted touches, suppressions, throttle counts), and what one decision admits
counts for the next, so campaigns competing for one contact in one pass are judged one
after the other, the higher priority first. The batch's contacts are locked by the claim,
so no other dispatcher judges a touch for them until this transaction ends.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import ContactSnapshot
from orchestrator.definitions import CampaignDefinition, SendStep
from orchestrator.policy_in_force import PolicyInForce, policy_in_force
from orchestrator.snapshots import address_hashes, contact_facts, suppressed_channels
from orchestrator.store.campaigns import CampaignStore
from orchestrator.store.contacts import ContactRecord
from orchestrator.store.enrollments import DueEnrollment
from orchestrator.store.suppressions import SuppressionStore
from orchestrator.store.touches import TouchStore
from policies import (
    Allow,
    Block,
    Candidate,
    CountedTouch,
    Decision,
    Defer,
    History,
    evaluate,
)
from policies.explain import at_local, span

__all__ = ["Admission", "CandidateTouch", "also_held"]

_log = logging.getLogger("kizuna.admission")


def also_held(decision: Decision) -> dict[str, str | None] | None:
    """A decided touch's `also_held`: the rules besides the binding one that held it, each
    with its own free time (None when no other rule did)."""
    if isinstance(decision, Allow) or not decision.also:
        return None
    return {hold.rule: hold.free_at.isoformat() if hold.free_at else None for hold in decision.also}


@dataclass(frozen=True)
class CandidateTouch:
    """A send step's touch, rendered, waiting for its decision."""

    enrollment: DueEnrollment
    contact: ContactRecord
    snapshot: ContactSnapshot
    campaign_id: int
    campaign: CampaignDefinition
    step: SendStep
    content: dict[str, str]
    address: str | None
    deadline: datetime


class Admission:
    """Decides the touches of one batch, inside the batch's transaction."""

    def __init__(
        self,
        policy: PolicyInForce,
        histories: dict[int, History],
        suppressed: dict[int, frozenset[str]],
        throttled: dict[tuple[int, str], list[datetime]],
    ) -> None:
        self._in_force = policy
        self._policy = policy.policy
        self._histories = histories
        self._suppressed = suppressed
        self._throttled = throttled

    @property
    def policy_version(self) -> int:
        """The version every decision of the batch is made under."""
        return self._in_force.version

    @classmethod
    async def prepare(
        cls,
        session: AsyncSession,
        contacts: Collection[ContactRecord],
        campaigns: Collection[tuple[int, CampaignDefinition]],
        now: datetime,
    ) -> Admission:
        """Load what the batch's decisions need, taking the throttle locks of its campaigns
        (in id order) so concurrent dispatchers count their throttles one by one."""
        in_force = await policy_in_force(session)
        ids = [contact.id for contact in contacts]
        histories: dict[int, History] = {contact_id: History() for contact_id in ids}
        if in_force.policy.longest_window:
            since = now - in_force.policy.longest_window
            for contact_id, touch in await TouchStore(session).counted_since(ids, since):
                histories[contact_id].add(touch)
        hashes = {contact.id: address_hashes(contact) for contact in contacts}
        every_hash = {
            h for by_channel in hashes.values() for found in by_channel.values() for h in found
        }
        rows = await SuppressionStore(session).matching(ids, every_hash)
        # Most batches meet no suppression at all: then nobody needs checking one by one.
        suppressed = {
            contact.id: suppressed_channels(contact, hashes[contact.id], rows)
            for contact in contacts
            if rows
        }

        # Every version in the batch counts: their throttles share the campaign's touches.
        throttles: dict[tuple[int, str], timedelta] = {}
        for campaign_id, campaign in campaigns:
            for channel, rule in (campaign.throttle or {}).items():
                key = (campaign_id, channel)
                throttles[key] = max(throttles.get(key, rule.per), rule.per)
        counts: dict[tuple[int, str], list[datetime]] = {}
        if throttles:
            await CampaignStore(session).lock_throttles(
                {campaign_id for campaign_id, _ in throttles}
            )
            longest = max(throttles.values())
            counts = await TouchStore(session).throttle_counts(throttles.keys(), now - longest)
            counts = {key: sorted(times) for key, times in counts.items()}
        return cls(in_force, histories, suppressed, counts)

    def weight(self, candidate: CandidateTouch) -> float:
        """What the touch costs against weighted caps."""
        return self._policy.weight(candidate.step.channel, candidate.step.weight)

    def decide(self, candidates: Sequence[CandidateTouch], now: datetime) -> list[Decision | None]:
        """A decision for each candidate (in the order given); higher priorities go first.
        None where the policy failed on the contact's data (logged): that enrollment fails."""
        order = sorted(
            range(len(candidates)),
            key=lambda i: (
                -candidates[i].campaign.priority,
                candidates[i].enrollment.next_action_at,
                candidates[i].enrollment.id,
            ),
        )
        decisions: dict[int, Decision | None] = {}
        for index in order:
            try:
                decisions[index] = self._decide(candidates[index], now)
            except Exception:  # one contact's data must not stop the batch
                _log.exception("no decision for enrollment %s", candidates[index].enrollment.id)
                decisions[index] = None
        return [decisions[index] for index in range(len(candidates))]

    def _decide(self, candidate: CandidateTouch, now: datetime) -> Decision:
        contact = candidate.contact
        asked = Candidate(
            channel=candidate.step.channel,
            category=candidate.campaign.category,
            address=candidate.address,
            weight=candidate.step.weight,
            deadline=candidate.deadline,
            topic=candidate.campaign.topic,
        )
        facts = contact_facts(contact, self._suppressed.get(contact.id, frozenset()))
        history = self._histories[contact.id]
        decision = evaluate(asked, history, self._policy, facts, now)
        if isinstance(decision, Allow):
            decision = self._throttle(candidate, now)
        if isinstance(decision, Allow):
            history.add(
                CountedTouch(
                    channel=candidate.step.channel,
                    at=now,
                    weight=self.weight(candidate),
                    category=candidate.campaign.category,
                )
            )
        return decision

    def _throttle(self, candidate: CandidateTouch, now: datetime) -> Decision:
        """The campaign's pace on this channel: at most `max` touches in any `per`."""
        rule = (candidate.campaign.throttle or {}).get(candidate.step.channel)
        if rule is None:
            return Allow()
        admitted = self._throttled.setdefault((candidate.campaign_id, candidate.step.channel), [])
        recent = [t for t in admitted if t > now - rule.per]
        if len(recent) < rule.max:
            admitted.append(now)
            return Allow()
        until = recent[len(recent) - rule.max] + rule.per
        free = at_local(until, candidate.contact.timezone)
        reason = (
            f"throttle: the campaign made {len(recent)} of {rule.max} {candidate.step.channel} "
            f"touches allowed per {span(rule.per)}; next slot {free}."
        )
        if until > candidate.deadline:
            return Block("throttle", reason + " That is past the step's last moment.")
        return Defer(until, "throttle", reason)
