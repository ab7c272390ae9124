"""The dispatcher: one pass over due enrollments, one transaction per batch.

A pass claims the contacts of the earliest due enrollments (all their due enrollments
with them), walks each enrollment through its steps in memory, asks admission about every
send step in priority order, and writes the touches and the new positions together. A
failure anywhere rolls the batch back whole, so a re-run does exactly the same work and
nothing is done twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import Channel, ContactSnapshot
from orchestrator.admission import Admission, Request
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import Clock
from orchestrator.conditions import EventFact, Facts
from orchestrator.definitions import BranchStep, Campaign, SendStep, WaitForEventStep
from orchestrator.snapshots import contact_fields, snapshot, template_context
from orchestrator.steps import Journey, Position, advance, apply_decision
from orchestrator.store.campaigns import CampaignStore
from orchestrator.store.contacts import ContactRecord, ContactStore
from orchestrator.store.enrollments import DueEnrollment, EnrollmentStore
from orchestrator.store.events import EventStore
from orchestrator.store.touches import TouchStore
from orchestrator.templates import TemplateError, render
from policies import Allow, Block, Decision, Defer

__all__ = ["Dispatcher"]

_log = logging.getLogger("kizuna.dispatcher")

#: How many times one enrollment may go through admission in one pass (send, send, ...).
_ROUNDS = 10


@dataclass
class _Walk:
    """One enrollment on its way through the pass."""

    enrollment: DueEnrollment
    position: Position
    journey: Journey
    contact: ContactRecord
    snapshot: ContactSnapshot
    step: SendStep | None = None
    touches: list[dict[str, Any]] = field(default_factory=list)


class Dispatcher:
    """Advances due enrollments, a batch at a time."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        channels: Mapping[str, Channel],
        *,
        batch_size: int = 500,
        catalog: CampaignCatalog | None = None,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._channels = channels
        self._batch_size = batch_size
        self._catalog = catalog or CampaignCatalog()
        self._on_queued = on_queued

    @property
    def batch_size(self) -> int:
        return self._batch_size

    async def run_once(self, now: datetime | None = None) -> int:
        """Process one batch; the number of enrollments it looked at (0: nothing due)."""
        now = now or self._clock.now()
        async with self._sessions.begin() as session:
            enrollments = await EnrollmentStore(session).claim_due(now, self._batch_size)
            if not enrollments:
                return 0
            walks = await self._walks(session, enrollments, now)
            versions = {
                (w.journey.campaign_id, w.enrollment.campaign_version): w.journey for w in walks
            }
            campaigns = [(journey.campaign_id, journey.campaign) for journey in versions.values()]
            contacts = {w.contact.id: w.contact for w in walks}.values()
            admission = await Admission.prepare(session, contacts, campaigns, now)
            for walk in walks:
                self._advance(walk, now)
            for _ in range(_ROUNDS):
                waiting = [walk for walk in walks if walk.step is not None]
                if not waiting:
                    break
                self._admit(waiting, admission, now)
            for walk in walks:
                if walk.step is not None:  # more sends than rounds: the next pass goes on
                    walk.position.next_action_at = now
            touches = [touch for walk in walks for touch in walk.touches]
            await TouchStore(session).add_many(touches)
            await EnrollmentStore(session).save_positions([_row(w, now) for w in walks])
            await CampaignStore(session).count_entries(
                Counter(
                    (walk.journey.campaign_id, step_id)
                    for walk in walks
                    for step_id in walk.position.entered
                )
            )
        if self._on_queued and any(self._sends(touch) for touch in touches):
            self._on_queued()
        return len(enrollments)

    async def run_until_idle(self, now: datetime | None = None) -> int:
        """Pass after pass until nothing is due; the enrollments looked at in all."""
        total = 0
        while processed := await self.run_once(now):
            total += processed
        return total

    def _sends(self, touch: Mapping[str, Any]) -> bool:
        channel = self._channels.get(touch["channel"])
        return touch["status"] == "queued" and channel is not None and channel.mode == "send"

    async def _walks(
        self, session: AsyncSession, enrollments: list[DueEnrollment], now: datetime
    ) -> list[_Walk]:
        contacts = {
            c.id: c
            for c in await ContactStore(session).records({e.contact_id for e in enrollments})
        }
        keys = {(e.campaign_id, e.campaign_version) for e in enrollments}
        definitions = await self._catalog.get_many(session, keys)
        events = await self._events(session, enrollments, definitions)
        walks = []
        for enrollment in enrollments:
            contact = contacts[enrollment.contact_id]
            campaign = definitions[(enrollment.campaign_id, enrollment.campaign_version)]
            facts = Facts(
                contact=contact_fields(contact),
                consent=contact.consent,
                events=tuple(
                    EventFact(
                        event.type,
                        event.data,
                        event.occurred_at,
                        step_id if touch_enrollment == enrollment.id else None,
                    )
                    for event, touch_enrollment, step_id in events.get(enrollment.contact_id, [])
                    if event.occurred_at >= enrollment.created_at
                ),
            )
            assert enrollment.id is not None
            assert enrollment.step_entered_at is not None
            journey = Journey(
                campaign_id=enrollment.campaign_id,
                campaign=campaign,
                contact_id=enrollment.contact_id,
                timezone=contact.timezone,
                enrolled_at=enrollment.created_at,
                facts=facts,
            )
            position = Position(
                step_id=enrollment.step_id,
                entered_at=enrollment.step_entered_at,
                seq=enrollment.step_seq,
                attempt=enrollment.attempt,
                next_action_at=enrollment.next_action_at,
                awaiting_event=enrollment.awaiting_event,
            )
            walks.append(_Walk(enrollment, position, journey, contact, snapshot(contact)))
        return walks

    async def _events(
        self,
        session: AsyncSession,
        enrollments: list[DueEnrollment],
        definitions: dict[tuple[int, int], Campaign],
    ) -> dict[int, list[Any]]:
        """Events of the contacts whose journeys may look at events (one query)."""
        reading = {key for key, campaign in definitions.items() if _reads_events(campaign)}
        looking = [e for e in enrollments if (e.campaign_id, e.campaign_version) in reading]
        if not looking:
            return {}
        since = min(e.created_at for e in looking)
        found: dict[int, list[Any]] = {}
        rows = await EventStore(session).with_steps_since({e.contact_id for e in looking}, since)
        for row in rows:
            found.setdefault(row[0].contact_id, []).append(row)
        return found

    def _admit(self, walks: list[_Walk], admission: Admission, now: datetime) -> None:
        requests: list[Request] = []
        asking: list[_Walk] = []
        for walk in walks:
            assert walk.step is not None
            try:
                request = self._request(walk, now)
            except Exception:
                self._broken(walk, now)
                continue
            if request is None:  # the step cannot be carried out for this contact
                walk.step = None
                continue
            requests.append(request)
            asking.append(walk)
        for walk, request, decision in zip(
            asking, requests, admission.decide(requests, now), strict=True
        ):
            if decision is None:
                error = "policy: the rules could not judge this contact's touch"
                self._fail(walk, request.step, "policy", error, now)
                walk.step = None
                continue
            walk.touches.append(
                self._touch(walk, request, decision, now, weight=admission.weight(request),
                            policy_version=admission.policy_version)
            )  # fmt: skip
            apply_decision(walk.position, request.step, decision, walk.journey.campaign, now)
            self._advance(walk, now)

    def _advance(self, walk: _Walk, now: datetime) -> None:
        try:
            walk.step = advance(walk.position, walk.journey, now)
        except Exception:
            self._broken(walk, now)

    def _broken(self, walk: _Walk, now: datetime) -> None:
        """An enrollment the engine cannot handle fails alone; the batch goes on without it
        (else it would stay the earliest due and stop every pass after)."""
        _log.exception("enrollment %s failed at step %s", walk.enrollment.id, walk.position.step_id)
        walk.step = None
        walk.position.finish("failed", "error", now)

    def _request(self, walk: _Walk, now: datetime) -> Request | None:
        step, journey = walk.step, walk.journey
        assert step is not None
        channel = self._channels.get(step.channel)
        if channel is None:  # a plugin channel was uninstalled after the campaign began
            self._fail(walk, step, "channel", f"no channel {step.channel!r} here", now)
            return None
        campaign_facts = {"id": journey.campaign_id, "name": journey.campaign.name}
        try:
            content = render(step.template, template_context(walk.snapshot, campaign_facts))
        except TemplateError as exc:
            self._fail(walk, step, "template", f"template: {exc}", now)
            return None
        return Request(
            enrollment=walk.enrollment,
            contact=walk.contact,
            snapshot=walk.snapshot,
            campaign_id=journey.campaign_id,
            campaign=journey.campaign,
            step=step,
            content=content,
            address=channel.address(walk.snapshot, content),
            deadline=walk.position.entered_at + step.max_delay,
        )

    def _fail(self, walk: _Walk, step: SendStep, reason: str, error: str, now: datetime) -> None:
        """The step cannot be carried out for this contact: a failed touch says why, and the
        journey ends as failed."""
        walk.touches.append(self._touch_row(walk, step, "failed", now, error=error))
        walk.position.finish("failed", reason, now)

    def _touch(
        self, walk: _Walk, request: Request, decision: Decision, now: datetime, **fields: Any
    ) -> dict[str, Any]:
        if isinstance(decision, Allow):
            return self._touch_row(
                walk, request.step, "queued", now, content=request.content, **fields
            )
        status = "deferred" if isinstance(decision, Defer) else "blocked"
        assert isinstance(decision, Defer | Block)
        return self._touch_row(
            walk,
            request.step,
            status,
            now,
            **fields,
            rule=decision.rule,
            reason=decision.reason,
            defer_until=decision.until if isinstance(decision, Defer) else None,
        )

    def _touch_row(
        self, walk: _Walk, step: SendStep, status: str, now: datetime, **fields: Any
    ) -> dict[str, Any]:
        enrollment, position, campaign = walk.enrollment, walk.position, walk.journey.campaign
        row: dict[str, Any] = {
            "contact_id": enrollment.contact_id,
            "enrollment_id": enrollment.id,
            "campaign_id": enrollment.campaign_id,
            "campaign_version": enrollment.campaign_version,
            "step_id": step.id,
            "channel": step.channel,
            "category": campaign.category,
            "status": status,
            "weight": 0.0,
            "idempotency_key": f"{enrollment.id}:{position.seq}:{position.attempt}",
            "rule": None,
            "reason": None,
            "policy_version": None,
            "defer_until": None,
            "content": {},
            "error": None,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        row.update(fields)
        return row


def _reads_events(campaign: Campaign) -> bool:
    return any(isinstance(step, WaitForEventStep | BranchStep) for step in campaign.steps)


def _row(walk: _Walk, now: datetime) -> dict[str, Any]:
    position = walk.position
    return {
        "id": walk.enrollment.id,
        "state": position.state,
        "step_id": position.step_id,
        "step_entered_at": position.entered_at,
        "step_seq": position.seq,
        "attempt": position.attempt,
        "awaiting_event": position.awaiting_event,
        "next_action_at": position.next_action_at,
        "exit_reason": position.exit_reason,
        "finished_at": position.finished_at,
        "updated_at": now,
    }
