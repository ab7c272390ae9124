"""Admission: the policy's decision for every touch a batch asks for, in priority order.

Everything a decision needs is loaded once for the batch (suppressions, throttle counts),
and what one decision admits counts for the next, so two campaigns competing for one
contact in one pass are judged one after the other, the higher priority first.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import ContactSnapshot
from orchestrator.definitions import Campaign, SendStep
from orchestrator.models import Contact, Enrollment
from orchestrator.snapshots import address_hashes
from orchestrator.store.campaigns import CampaignStore
from orchestrator.store.suppressions import SuppressionStore
from orchestrator.store.touches import TouchStore
from policies import Allow, Block, Candidate, ContactFacts, Decision, Defer, Policy, evaluate
from policies.explain import at_local, span

__all__ = ["Admission", "Request"]


@dataclass(frozen=True)
class Request:
    """A send step's touch, rendered, waiting for its decision."""

    enrollment: Enrollment
    contact: Contact
    snapshot: ContactSnapshot
    campaign_id: int
    campaign: Campaign
    step: SendStep
    content: dict[str, str]
    address: str | None
    deadline: datetime


class Admission:
    """Decides the touches of one batch, inside the batch's transaction."""

    def __init__(
        self,
        policy: Policy,
        suppressed: dict[int, frozenset[str]],
        throttled: dict[tuple[int, str], list[datetime]],
    ) -> None:
        self._policy = policy
        self._suppressed = suppressed
        self._throttled = throttled

    @classmethod
    async def prepare(
        cls,
        session: AsyncSession,
        contacts: Collection[Contact],
        campaigns: dict[int, Campaign],
        now: datetime,
    ) -> Admission:
        """Load what the batch's decisions need, locking throttled campaigns (after the
        contacts, in id order) so concurrent dispatchers count their throttles one by one."""
        hashes = {contact.id: address_hashes(contact) for contact in contacts}
        rows = await SuppressionStore(session).matching(
            [c.id for c in contacts if c.id is not None],
            {h for by_channel in hashes.values() for hs in by_channel.values() for h in hs},
        )
        suppressed: dict[int, frozenset[str]] = {}
        for contact in contacts:
            assert contact.id is not None
            channels = {
                row.channel
                for row in rows
                if row.contact_id == contact.id
                or any(
                    row.address_hash in found
                    for channel, found in hashes[contact.id].items()
                    if row.channel in ("*", channel)
                )
            }
            suppressed[contact.id] = frozenset(channels)

        throttles = {
            (campaign_id, channel): rule
            for campaign_id, campaign in campaigns.items()
            for channel, rule in (campaign.throttle or {}).items()
        }
        counts: dict[tuple[int, str], list[datetime]] = {}
        if throttles:
            await CampaignStore(session).lock({campaign_id for campaign_id, _ in throttles})
            longest = max(rule.per for rule in throttles.values())
            counts = await TouchStore(session).throttle_counts(throttles.keys(), now - longest)
            for key, rule in throttles.items():
                counts[key] = sorted(t for t in counts.get(key, []) if t > now - rule.per)
        return cls(Policy(), suppressed, counts)

    def weight(self, request: Request) -> float:
        """What the touch costs against weighted caps."""
        return self._policy.weight(request.step.channel, request.step.weight)

    def decide(self, requests: Sequence[Request], now: datetime) -> list[Decision]:
        """A decision for each request (in the order given); higher priorities go first."""
        order = sorted(
            range(len(requests)),
            key=lambda i: (
                -requests[i].campaign.priority,
                requests[i].enrollment.next_action_at or now,
                requests[i].enrollment.id or 0,
            ),
        )
        decisions: dict[int, Decision] = {}
        for index in order:
            decisions[index] = self._decide(requests[index], now)
        return [decisions[index] for index in range(len(requests))]

    def _decide(self, request: Request, now: datetime) -> Decision:
        contact = request.contact
        assert contact.id is not None
        candidate = Candidate(
            channel=request.step.channel,
            category=request.campaign.category,
            address=request.address,
            weight=request.step.weight,
            campaign_id=request.campaign_id,
            deadline=request.deadline,
        )
        facts = ContactFacts(
            timezone=contact.timezone,
            consent=contact.consent,
            paused_until=contact.paused_until,
            suppressed=self._suppressed.get(contact.id, frozenset()),
        )
        decision = evaluate(candidate, (), self._policy, facts, now)
        if isinstance(decision, Allow):
            decision = self._throttle(request, now)
        return decision

    def _throttle(self, request: Request, now: datetime) -> Decision:
        """The campaign's pace on this channel: at most `max` touches in any `per`."""
        rule = (request.campaign.throttle or {}).get(request.step.channel)
        if rule is None:
            return Allow()
        admitted = self._throttled.setdefault((request.campaign_id, request.step.channel), [])
        recent = [t for t in admitted if t > now - rule.per]
        if len(recent) < rule.max:
            admitted.append(now)
            return Allow()
        until = recent[len(recent) - rule.max] + rule.per
        free = at_local(until, request.contact.timezone)
        reason = (
            f"throttle: the campaign made {len(recent)} of {rule.max} {request.step.channel} "
            f"touches allowed per {span(rule.per)}; next slot {free}."
        )
        if until > request.deadline:
            return Block("throttle", reason + " That is past the step's last moment.")
        return Defer(until, "throttle", reason)
