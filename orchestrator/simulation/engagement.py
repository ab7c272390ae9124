"""The assumed contacts: after each engine pass they open and click the messages that went
out and complete the tasks that were created, through the same services as real events and
real workers. Draws are keyed by the contact and the touch (its campaign, step and virtual
time), never by row ids, so a copy of the tables and the live tables draw alike."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import Channel
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import Clock
from orchestrator.models import ApiKey
from orchestrator.services.api_keys import ApiKeyService
from orchestrator.services.events import EventService, NewEvent
from orchestrator.services.tasks import TaskClaim, TaskCompletion, TaskService
from orchestrator.simulation.assumptions import Assumptions, outcome_shares
from orchestrator.store.simulation import Row, SimulationStore

__all__ = ["Engagement"]

#: The simulated workers' name and key (stored in the database they work on).
WORKER = "simulation"
_WORKER_KEY = "kz_simulation_worker_do_not_use"
#: Tasks claimed at once, the most a claim takes.
_CLAIM = 500


class Engagement:
    """Answers what the engine did at one virtual instant, as `assume` says contacts do."""

    def __init__(
        self,
        assume: Assumptions,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        channels: Mapping[str, Channel],
        catalog: CampaignCatalog,
    ) -> None:
        self._assume = assume
        self._sessions = sessions
        self._clock = clock
        self._channels = channels
        self._catalog = catalog

    def _draws(
        self, contact_id: int, campaign_id: int | None, step_id: str | None
    ) -> random.Random:
        """The touch's own random numbers: the same seed and touch always draw the same."""
        at = self._clock.now().isoformat()
        return random.Random(f"{self._assume.seed}:{contact_id}:{campaign_id}:{step_id}:{at}")

    async def respond(self, sent: Sequence[Row]) -> int:
        """Open and click the messages that went out now (`sent`), complete the open
        tasks; how many tasks were completed."""
        await self._messages(sent)
        return await self._tasks()

    async def _messages(self, sent: Sequence[Row]) -> None:
        events: list[NewEvent] = []
        for touch in sent:
            draws = self._draws(touch["contact_id"], touch["campaign_id"], touch["step_id"])
            opened, clicked = draws.random(), draws.random()
            kinds = []
            if opened < self._assume.open_rate or clicked < self._assume.click_rate:
                kinds.append("open")
            if clicked < self._assume.click_rate:
                kinds.append("click")
            events += [
                NewEvent(
                    contact_id=touch["contact_id"],
                    type=kind,
                    data={},
                    dedupe_key=f"simulation:{kind}:{touch['id']}",
                    source="simulation",
                    touch_id=touch["id"],
                )
                for kind in kinds
            ]
        if events:
            async with self._sessions.begin() as session:
                await EventService(session, self._clock, self._catalog).record_many(events)

    async def _tasks(self) -> int:
        """Claim the open tasks and complete them with drawn outcomes. An outcome that
        records consent (`do_not_call`) goes through the task service one by one; the rest
        are closed together, their outcome events recorded in one batch."""
        done = 0
        for name, channel in sorted(self._channels.items()):
            if channel.mode != "task":
                continue
            outcomes, shares = outcome_shares(self._assume, channel)
            while True:
                async with self._sessions.begin() as session:
                    service = TaskService(session, self._clock, self._channels, self._catalog)
                    key = await self._key(session)
                    claim = TaskClaim(channel=name, worker=WORKER, limit=_CLAIM)
                    claimed = [task.touch for task in await service.claim(claim, key)]
                    together: dict[int, str] = {}
                    events: list[NewEvent] = []
                    for touch in claimed:
                        assert touch.id is not None
                        draws = self._draws(touch.contact_id, touch.campaign_id, touch.step_id)
                        (outcome,) = draws.choices(outcomes, shares)
                        if outcome in channel.opt_out_outcomes:
                            completion = TaskCompletion(worker=WORKER, outcome=outcome)
                            await service.complete(touch.id, completion, key)
                            continue
                        together[touch.id] = outcome
                        events.append(
                            NewEvent(
                                contact_id=touch.contact_id,
                                type=channel.outcome_event,
                                data={"outcome": outcome, "channel": name, "worker": WORKER},
                                dedupe_key=f"task:{touch.id}",
                                source="worker",
                                touch_id=touch.id,
                            )
                        )
                    await SimulationStore(session).complete_tasks(together, self._clock.now())
                    if events:
                        intake = EventService(session, self._clock, self._catalog)
                        await intake.record_many(events)
                done += len(claimed)
                if len(claimed) < _CLAIM:
                    break
        return done

    async def _key(self, session: AsyncSession) -> ApiKey:
        return await ApiKeyService(session, self._clock).ensure(WORKER, _WORKER_KEY, ["worker"])
