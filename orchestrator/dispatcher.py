"""The dispatcher: one pass over due enrollments, one transaction per batch.

A pass claims the contacts of the earliest due enrollments (all their due enrollments
with them), moves each enrollment through its steps in memory, asks admission about every
send step in priority order, and writes the touches and the new positions together. A
failure anywhere rolls the batch back whole, so a re-run does exactly the same work and
nothing is done twice.

No one touch stops the pass for the others: templates render in the `Renderer`'s worker
processes, bounded in time and size, and a touch the database refuses to store is stored
failed in its place. A step whose touches go over those bounds `PAUSE_AFTER` times in a row
pauses its campaign (the failed touch says so, as the campaign has no field for a reason).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import Channel
from orchestrator.admission import Admission, CandidateTouch
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import Clock
from orchestrator.conditions import EventFact, Facts
from orchestrator.definitions import CampaignDefinition
from orchestrator.dispatch_rows import Advancing, decided, fail, position_row, refused
from orchestrator.errors import Conflict
from orchestrator.rendering import Job, Outcome, Renderer, shared_renderer
from orchestrator.services.campaigns import CampaignService
from orchestrator.snapshots import contact_fields, snapshot, template_context
from orchestrator.step_renders import PAUSE_AFTER, StepKey, StepRenders
from orchestrator.steps import EnrollmentContext, Position, advance, apply_decision
from orchestrator.store.campaigns import CampaignStore
from orchestrator.store.contacts import ContactStore
from orchestrator.store.enrollments import DueEnrollment, EnrollmentStore
from orchestrator.store.events import EventStore
from orchestrator.store.touches import NewTouch, TouchStore
from orchestrator.templates import TemplateError

__all__ = ["Dispatcher"]

_log = logging.getLogger("kizuna.dispatcher")

#: How many times one enrollment may go through admission in one pass (send, send, ...).
_ROUNDS = 10
#: How much of the database's refusal a failed touch quotes.
_QUOTED = 300


class Dispatcher:
    """Advances due enrollments, a batch at a time."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        channels: Mapping[str, Channel],
        catalog: CampaignCatalog,
        *,
        batch_size: int = 500,
        on_queued: Callable[[], None] | None = None,
        renderer: Renderer | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._channels = channels
        self._batch_size = batch_size
        self._catalog = catalog
        self._on_queued = on_queued
        self._renders = StepRenders(renderer or shared_renderer())

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
            advancing = await self._advancing(session, enrollments, now)
            versions = {
                (w.context.campaign_id, w.enrollment.campaign_version): w.context for w in advancing
            }
            campaigns = [(context.campaign_id, context.campaign) for context in versions.values()]
            contacts = {w.contact.id: w.contact for w in advancing}.values()
            admission = await Admission.prepare(session, contacts, campaigns, now)
            for item in advancing:
                self._advance(item, now)
            pausing: dict[int, str] = {}
            for _ in range(_ROUNDS):
                waiting = [item for item in advancing if item.step is not None]
                if not waiting:
                    break
                await self._admit(waiting, admission, now, pausing)
            for item in advancing:
                if item.step is not None:  # more sends than rounds: the next pass goes on
                    item.position.next_action_at = now
            touches = await self._store(session, advancing, now)
            await EnrollmentStore(session).save_positions([position_row(w, now) for w in advancing])
            await self._pause(session, pausing)
            await CampaignStore(session).count_entries(
                Counter(
                    (item.context.campaign_id, step_id)
                    for item in advancing
                    for step_id in item.position.entered
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

    def _sends(self, touch: NewTouch) -> bool:
        channel = self._channels.get(touch["channel"])
        return touch["status"] == "queued" and channel is not None and channel.mode == "send"

    async def _advancing(
        self, session: AsyncSession, enrollments: list[DueEnrollment], now: datetime
    ) -> list[Advancing]:
        contacts = {
            c.id: c
            for c in await ContactStore(session).records({e.contact_id for e in enrollments})
        }
        keys = {(e.campaign_id, e.campaign_version) for e in enrollments}
        definitions = await self._catalog.get_many(session, keys)
        events = await self._events(session, enrollments, definitions)
        advancing = []
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
            context = EnrollmentContext(
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
            advancing.append(Advancing(enrollment, position, context, contact, snapshot(contact)))
        return advancing

    async def _events(
        self,
        session: AsyncSession,
        enrollments: list[DueEnrollment],
        definitions: dict[tuple[int, int], CampaignDefinition],
    ) -> dict[int, list[Any]]:
        """Events of the contacts whose enrollments may look at events (one query)."""
        reading = {key for key, campaign in definitions.items() if campaign.reads_events}
        looking = [e for e in enrollments if (e.campaign_id, e.campaign_version) in reading]
        if not looking:
            return {}
        since = min(e.created_at for e in looking)
        found: dict[int, list[Any]] = {}
        rows = await EventStore(session).with_steps_since({e.contact_id for e in looking}, since)
        for row in rows:
            found.setdefault(row[0].contact_id, []).append(row)
        return found

    async def _admit(
        self,
        advancing: list[Advancing],
        admission: Admission,
        now: datetime,
        pausing: dict[int, str],
    ) -> None:
        candidates: list[CandidateTouch] = []
        asking: list[Advancing] = []
        for item, content in zip(advancing, await self._render(advancing), strict=True):
            assert item.step is not None
            if content is None:  # its campaign is being paused: it waits for the resume
                item.step = None
                item.position.next_action_at = now
                continue
            try:
                candidate = self._candidate(item, content, now, pausing)
            except Exception:
                self._broken(item, now)
                continue
            if candidate is None:  # the step cannot be carried out for this contact
                item.step = None
                continue
            candidates.append(candidate)
            asking.append(item)
        for item, candidate, decision in zip(
            asking, candidates, admission.decide(candidates, now), strict=True
        ):
            if decision is None:
                error = "policy: the rules could not judge this contact's touch"
                fail(item, candidate.step, "policy", error, now)
                item.step = None
                continue
            item.touches.append(
                decided(item, candidate, decision, now, weight=admission.weight(candidate),
                            policy_version=admission.policy_version)
            )  # fmt: skip
            apply_decision(item.position, candidate.step, decision, item.context.campaign, now)
            self._advance(item, now)

    def _advance(self, item: Advancing, now: datetime) -> None:
        try:
            item.step = advance(item.position, item.context, now)
        except Exception:
            self._broken(item, now)

    def _broken(self, item: Advancing, now: datetime) -> None:
        """An enrollment the engine cannot handle fails alone; the batch goes on without it
        (else it would stay the earliest due and stop every pass after)."""
        _log.exception("enrollment %s failed at step %s", item.enrollment.id, item.position.step_id)
        item.step = None
        item.position.finish("failed", "error", now)

    async def _render(self, advancing: list[Advancing]) -> list[Outcome | None]:
        """Each enrollment's step rendered for its contact, off the event loop; None for
        those held back while their campaign is paused."""
        jobs: list[Job] = []
        steps: list[StepKey] = []
        for item in advancing:
            assert item.step is not None
            campaign = {"id": item.context.campaign_id, "name": item.context.campaign.name}
            jobs.append((item.step.template, template_context(item.snapshot, campaign)))
            steps.append((item.context.campaign_id, item.step.id))
        return await self._renders.render(jobs, steps)

    def _candidate(
        self, item: Advancing, content: Outcome, now: datetime, pausing: dict[int, str]
    ) -> CandidateTouch | None:
        step, context = item.step, item.context
        assert step is not None
        channel = self._channels.get(step.channel)
        if channel is None:  # a plugin channel was uninstalled after the campaign began
            fail(item, step, "channel", f"no channel {step.channel!r} here", now)
            return None
        pauses = self._renders.pauses((context.campaign_id, step.id), content)
        if isinstance(content, TemplateError):
            error = f"template: {content}"
            if pauses:
                error += f"; {PAUSE_AFTER} touches of step {step.id!r} in a row went over"
                error += " the rendering bounds, so the campaign is paused"
                pausing[context.campaign_id] = error
            fail(item, step, "template", error, now)
            return None
        return CandidateTouch(
            enrollment=item.enrollment,
            contact=item.contact,
            snapshot=item.snapshot,
            campaign_id=context.campaign_id,
            campaign=context.campaign,
            step=step,
            content=content,
            address=channel.address(item.snapshot, content),
            deadline=item.position.entered_at + step.max_delay,
        )

    async def _store(
        self, session: AsyncSession, advancing: list[Advancing], now: datetime
    ) -> list[NewTouch]:
        """Write the batch's touches; the ones written. Where the database refuses the
        batch, each touch is written alone, and one it refuses is stored failed, with the
        refusal, in its place: its enrollment ends there, the others go on."""
        store = TouchStore(session)
        touches = [touch for item in advancing for touch in item.touches]
        try:
            async with session.begin_nested():
                await store.add_many(touches)
            return touches
        except DBAPIError:
            _log.warning("the batch's touches were refused; writing them one at a time")
        written: list[NewTouch] = []
        for item in advancing:
            for index, touch in enumerate(item.touches):
                try:
                    async with session.begin_nested():
                        await store.add_many([touch])
                    written.append(touch)
                except DBAPIError as exc:
                    refusal = str(exc.orig or exc).splitlines()[0][:_QUOTED]
                    failed = refused(touch, f"store: the database refused the touch: {refusal}")
                    await store.add_many([failed])
                    written.append(failed)
                    item.touches[index:] = [failed]
                    item.position.finish("failed", "store", now)
                    break
        return written

    async def _pause(self, session: AsyncSession, pausing: dict[int, str]) -> None:
        """Pause the campaigns whose steps keep going over the rendering bounds."""
        campaigns = CampaignService(session, self._clock)
        for campaign_id, reason in pausing.items():
            try:
                await campaigns.transition(campaign_id, "pause")
            except Conflict:
                continue  # paused or archived meanwhile
            _log.warning("campaign %s paused: %s", campaign_id, reason)
